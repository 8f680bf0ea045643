package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestBrowserCompletedWithErrors: a scheduled job says when it starts and
// is started from its page; when one of its two mailboxes cannot move, the
// page (live, not reloaded) and the jobs list say "completed with errors",
// in the warning colour.
func TestBrowserCompletedWithErrors(t *testing.T) {
	a := newBrowserApp(t)
	j := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 2,
		StartAt: time.Now().Add(2 * time.Hour)}, "user01", "nosuchuser")
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	page := fmt.Sprintf("/jobs/%d", j.ID)
	b.open(page)
	if got := b.text("[data-testid=job-starts]"); !strings.Contains(got, "This job starts ") || !strings.Contains(got, "(in 2h 0m 0s)") {
		t.Errorf("scheduled job page says %q, want when it starts", got)
	}
	browserEval[any](b, `window.browserTestMarker = "not reloaded", null`)
	b.submit("[data-testid=start-now]")
	if got := b.text("[data-testid=flash]"); got != fmt.Sprintf("Job %d starts now.", j.ID) {
		t.Errorf("flash after Start now = %q", got)
	}
	browserEval[any](b, `window.browserTestMarker = "not reloaded", null`)
	state := browserPoll(b, "the job's outcome, live", `document.querySelector("[data-testid=job-state]").textContent`,
		func(s string) bool { return s == "completed with errors" })
	if got := browserEval[string](b, `String(window.browserTestMarker)`); got != "not reloaded" {
		t.Errorf("the page was reloaded (marker %q); the outcome must arrive live", got)
	}
	if got := a.waitJob(t, j.ID); got.State != model.JobDoneWithErrors {
		t.Errorf("job = %s, want %s", got.State, model.JobDoneWithErrors)
	}
	states := browserEval[map[string]string](b, browserStates)
	if states["user01"] != "done" || states["nosuchuser"] != "failed" {
		t.Errorf("rows = %v, want user01 done and nosuchuser failed", states)
	}
	if starts := browserEval[bool](b, `(function(){var e=document.querySelector("[data-testid=job-starts]");return !e||e.hidden})()`); !starts {
		t.Errorf("a started job still says when it starts")
	}
	warn := browserEval[string](b, `getComputedStyle(document.querySelector("[data-testid=job-state]")).color`)
	plain := browserEval[string](b, `getComputedStyle(document.querySelector("main p") || document.body).color`)
	if warn == plain {
		t.Errorf("the job state %q is in the text colour %s, want the warning colour", state, warn)
	}

	b.open("/jobs?state=completed-with-errors")
	if got := b.text(fmt.Sprintf("[data-testid=job-%d]", j.ID)); !strings.Contains(got, "completed with errors") {
		t.Errorf("jobs list row = %q, want completed with errors", got)
	}
	if got := b.text("[data-testid=filter-completed-with-errors]"); got != "completed with errors (1)" {
		t.Errorf("filter = %q, want completed with errors (1)", got)
	}
}

// TestBrowserPreflightProblemBlocksStart: when the live preflight finds a
// user already in an unfinished job, Start is disabled and the page offers
// to remove that user; after removing them the preflight runs again and
// Start is enabled.
func TestBrowserPreflightProblemBlocksStart(t *testing.T) {
	a := newBrowserApp(t)
	held := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		StartAt: time.Now().Add(24 * time.Hour)}, "user01")
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	b.open("/wizard/users")
	b.do("paste two uids", chromedp.SendKeys(chromedp.ID("paste"), "user01 user02"))
	b.submit("[data-testid=import]")
	b.submit("[data-testid=next]")
	b.do("choose dst", chromedp.Click(chromedp.ID("target-dst")))
	b.submit("[data-testid=next]")
	b.submit("[data-testid=next]") // policy as it is
	b.submit("[data-testid=next]") // start now
	if got := b.path(); got != "/wizard/summary" {
		t.Fatalf("after the schedule step the page is %s, want the summary: %s", got, b.text("main"))
	}
	status := browserPoll(b, "the preflight's end", `document.querySelector("[data-testid=preflight-status]").textContent`,
		func(s string) bool { return strings.HasPrefix(s, "Checked:") })
	if want := "Checked: 1 ready, 1 with problems. Remove them"; !strings.HasPrefix(status, want) {
		t.Errorf("preflight status = %q, want %q…", status, want)
	}
	if got := b.text("[data-testid=preflight-user01] [data-field=problems]"); !strings.Contains(got, fmt.Sprintf("unfinished job %d", held.ID)) {
		t.Errorf("user01's problems = %q, want job %d named", got, held.ID)
	}
	if !browserEval[bool](b, `document.querySelector("[data-testid=start]").disabled`) {
		t.Errorf("Start is enabled although the preflight found a problem")
	}
	b.submit("[data-testid=remove-problems] button")
	if got := b.text("[data-testid=flash]"); got != "Removed 1 user with problems: user01." {
		t.Errorf("flash after removal = %q", got)
	}
	status = browserPoll(b, "the second preflight's end", `document.querySelector("[data-testid=preflight-status]").textContent`,
		func(s string) bool { return strings.HasPrefix(s, "Checked:") })
	if status != "Checked: 1 ready, 0 with problems." {
		t.Errorf("second preflight = %q, want 1 ready", status)
	}
	if browserEval[bool](b, `document.querySelector("[data-testid=start]").disabled`) ||
		!browserEval[bool](b, `document.querySelector("[data-testid=remove-problems]").hidden`) {
		t.Errorf("after removing the problem, Start is disabled or the removal still offered")
	}
	b.submit("[data-testid=start]")
	var id int64
	if _, err := fmt.Sscanf(b.path(), "/jobs/%d", &id); err != nil {
		t.Fatalf("after Start the page is %s, want the job", b.path())
	}
	if got := a.waitJob(t, id); got.State != model.JobDone {
		t.Errorf("job of user02 = %s, want done", got.State)
	}
}
