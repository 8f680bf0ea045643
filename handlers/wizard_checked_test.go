package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// TestWizardProblemsBlockStart: a preflight with a problem disables Start
// and offers to remove the users with problems; removing them leads to a
// start, and the scheduled job's totals cover every mailbox from the
// preflight's sizes before any move started.
func TestWizardProblemsBlockStart(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	held := jobsCreateLater(t, a, "user01")
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user03"}}, "/wizard/users")
	a.wizardStep(t, c, "/wizard/policy", url.Values{"policy": {"abandon"}, "source": {"remove"}}, "/wizard/schedule")
	start := time.Now().Add(3 * time.Hour).In(time.Local).Format(web.DateTimeLocal)
	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {start}, "parallel": {"2"}}, "/wizard/summary")

	body := a.wizardGetOK(t, c, "/wizard/summary?preflight=now")
	wantContains(t, "checked summary", body,
		"Checked: 2 ready, 1 with problems. Remove them from the selection",
		`data-testid="start" disabled`, "Already in unfinished job "+strconv.FormatInt(held.ID, 10),
		`data-field="quota">none reported<`, "Remove the users with problems")
	wantNotContains(t, "checked summary", body, `data-testid="remove-problems" hidden`)

	resp, _ := a.post(t, c, "/wizard/start", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther ||
		!strings.Contains(flashOf(t, loc), "problems with 1 user (user01)") {
		t.Fatalf("POST /wizard/start = %d to %q, want 303 to the summary naming both", resp.StatusCode, loc)
	}

	resp, _ = a.post(t, c, "/wizard/summary/remove-problems", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/wizard/summary?") ||
		flashOf(t, loc) != "Removed 1 user with problems: user01." {
		t.Fatalf("POST remove-problems = %d to %q (%q), want 303 to the summary", resp.StatusCode, loc, flashOf(t, loc))
	}
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary after removal", body, `data-testid="choice-users">2<`, `data-testid="preflight-user02"`)
	wantNotContains(t, "summary after removal", body, `data-testid="preflight-user01"`, `data-testid="start" disabled`)
	// A second removal has nothing to go on: the selection changed.
	resp, _ = a.post(t, c, "/wizard/summary/remove-problems", nil)
	if loc := resp.Header.Get("Location"); !strings.Contains(flashOf(t, loc), "changed since the last preflight") {
		t.Errorf("second removal = %q, want a stale preflight", flashOf(t, loc))
	}

	body = a.wizardGetOK(t, c, "/wizard/summary?preflight=now")
	wantContains(t, "checked again", body, "Checked: 2 ready, 0 with problems.")
	resp, _ = a.post(t, c, "/wizard/start", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/jobs/") {
		t.Fatalf("POST /wizard/start = %d to %q, want the job", resp.StatusCode, loc)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(loc, "/jobs/"), 10, 64)
	j, err := a.db.Job(ctx, id)
	if err != nil || j.State != model.JobQueued || j.StartAt.IsZero() {
		t.Fatalf("job %d = %+v, %v, want queued with a start time", id, j, err)
	}
	var msgs int64
	for _, m := range jobsMoves(t, a, id) {
		if m.State != model.MoveQueued || m.MsgsTotal != 10 || m.BytesTotal == 0 {
			t.Errorf("queued move of %s = %s with %d messages, %d bytes in total; want the preflight's 10 and their size",
				m.UID, m.State, m.MsgsTotal, m.BytesTotal)
		}
		msgs += m.MsgsTotal
	}
	totals, err := a.db.JobTotals(ctx, id)
	if err != nil || totals.MsgsTotal != msgs || msgs != 20 {
		t.Errorf("JobTotals() = %+v, %v; want 20 messages in all before anything started", totals, err)
	}
}
