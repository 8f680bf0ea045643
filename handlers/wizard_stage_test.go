package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/web/format"
)

// The schedule step's mode: a staged job with a completion time reaches
// the summary and the job; bad completion times are refused naming the
// value. The job starts in two hours, so the runner leaves it alone.
func TestWizardStagedMode(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	ctx := context.Background()
	a.wizardToSchedule(t, c)
	a.wizardStep(t, c, "/wizard/policy", url.Values{"policy": {"abandon"}, "source": {"remove"}}, "/wizard/schedule")

	body := a.wizardGetOK(t, c, "/wizard/schedule")
	wantContains(t, "schedule step", body, `value="move" checked`, "Move now (copy, switch, remove)",
		"Sync, then wait to complete", `name="complete_at"`)

	start := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	layout := "2006-01-02T15:04"
	for _, tc := range []struct {
		name, complete, want string
	}{
		{"before the start", start.Add(-time.Hour).Format(layout), "is not after the start time " + start.Format(layout)},
		{"in the past", "2001-02-03T04:05", "Complete at: 2001-02-03T04:05 is in the past"},
		{"not a time", "saturday", `Complete at: &#34;saturday&#34; is not a date and time`},
		{"too far", time.Now().AddDate(1, 0, 2).Format(layout), "is more than a year ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.post(t, c, "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {start.Format(layout)},
				"parallel": {"4"}, "mode": {"stage"}, "complete_at": {tc.complete}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("POST schedule with complete_at %q = %d, want 422", tc.complete, resp.StatusCode)
			}
			wantContains(t, "re-rendered schedule", body, `data-testid="error-complete_at"`, tc.want,
				`value="stage" checked`, `value="`+tc.complete+`"`)
		})
	}

	complete := start.Add(3 * 24 * time.Hour)
	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {start.Format(layout)}, "parallel": {"4"},
		"mode": {"stage"}, "complete_at": {complete.Format(layout)}}, "/wizard/summary")
	body = a.wizardGetOK(t, c, "/wizard/schedule")
	wantContains(t, "schedule step after going back", body, `value="stage" checked`, `value="`+complete.Format(layout)+`"`)
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary", body, `data-testid="choice-mode">sync, then wait to complete<`,
		`data-testid="choice-complete">at `+format.Time(complete)+`<`)

	resp, body := a.post(t, c, "/wizard/start", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/jobs/") {
		t.Fatalf("POST /wizard/start = %d, want 303 to the job; body %s", resp.StatusCode, body)
	}
	jobs, err := a.db.Jobs(ctx, "")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Jobs() = %v, %v, want one", jobs, err)
	}
	if j := jobs[0]; !j.Stage || !j.CompleteAt.Equal(complete) || !j.StartAt.Equal(start) {
		t.Errorf("job = stage %v, complete at %v, start %v; want staged, %v, %v", j.Stage, j.CompleteAt, j.StartAt, complete, start)
	}

	// Move now: the summary says so and has no completion row; a
	// completion time typed before switching back is not kept.
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user03"}}, "/wizard/users")
	a.wizardStep(t, c, "/wizard/target", url.Values{"target": {"dst"}}, "/wizard/policy")
	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {start.Format(layout)}, "parallel": {"4"},
		"mode": {"move"}, "complete_at": {complete.Format(layout)}}, "/wizard/summary")
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary of a move", body, `data-testid="choice-mode">move now (copy, switch, remove)<`)
	wantNotContains(t, "summary of a move", body, `data-testid="choice-complete"`)
	resp, body = a.post(t, c, "/wizard/start", nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/jobs/") {
		t.Fatalf("POST /wizard/start = %d; body %s", resp.StatusCode, body)
	}
	jobs, err = a.db.Jobs(ctx, "")
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Jobs() = %v, %v, want two", jobs, err)
	}
	newest := jobs[0]
	if jobs[1].ID > newest.ID {
		newest = jobs[1]
	}
	if newest.Stage || !newest.CompleteAt.IsZero() {
		t.Errorf("moved-now job = stage %v, complete at %v; want neither", newest.Stage, newest.CompleteAt)
	}
}
