package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// browserPoints calls a test's function at the mover's named points
// (Mover.Crash, the crash tests' hook). The mover calls it from its own
// goroutine; set may be called at any time.
type browserPoints struct {
	mu sync.Mutex
	f  func(point string)
}

func (p *browserPoints) set(f func(point string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f = f
}

func (p *browserPoints) at(point string) {
	p.mu.Lock()
	f := p.f
	p.mu.Unlock()
	if f != nil {
		f(point)
	}
}

// browserGate holds the first move that reaches a point until the test
// opens it: reached is closed when the move arrived, and the move waits
// for open (or the end of the test).
type browserGate struct {
	point        string
	reached      chan struct{}
	release      chan struct{}
	arrive, open sync.Once
}

func newBrowserGate(t *testing.T, point string) *browserGate {
	g := &browserGate{point: point, reached: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.let) // a failed test must not leave the move held
	return g
}

// hold is called at every point; only the gate's first one waits.
func (g *browserGate) hold(point string) {
	if point != g.point {
		return
	}
	first := false
	g.arrive.Do(func() { first = true; close(g.reached) })
	if first {
		<-g.release
	}
}

func (g *browserGate) let() { g.open.Do(func() { close(g.release) }) }

// wait waits (bounded) until a move reached the gate.
func (g *browserGate) wait(t *testing.T) {
	t.Helper()
	select {
	case <-g.reached:
	case <-time.After(browserWait):
		t.Fatalf("no move reached %q within %v", g.point, browserWait)
	}
}

// submitStatus clicks sel and returns the status of the page it leads to.
func (b *browserTab) submitStatus(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s on %s: %v", sel, b.location(), err)
	}
	if resp == nil {
		b.t.Fatalf("click %s on %s: no response", sel, b.location())
	}
	return resp.Status
}

// newTab opens a second tab in b's browser.
func (b *browserTab) newTab() *browserTab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	// As for the first tab: the action that creates the tab runs on a
	// context without deadline (a deadline would close the tab), bounded
	// from outside.
	opened := make(chan error, 1)
	go func() { opened <- chromedp.Do(ctx) }()
	select {
	case err := <-opened:
		if err != nil {
			b.t.Fatalf("open a second tab: %v", err)
		}
	case <-time.After(browserWait):
		b.t.Fatalf("a second tab did not open within %v", browserWait)
	}
	return &browserTab{t: b.t, ctx: ctx, base: b.base}
}

// cancelShownExpr is whether the row's Cancel button is shown.
func cancelShownExpr(uid string) string {
	return fmt.Sprintf(`(function(){var s=document.querySelector("[data-testid=move-%s] span[data-unless-phase]");return !!s && !s.hidden})()`, uid)
}

// The admin opens a mailbox's cancel while the move verifies, and confirms
// once it is past its cut-over: the cancel is refused with the reason, the
// live job page has meanwhile hidden the Cancel button, and the move
// finishes done with the source removed and nothing lost. The move is held
// at the mover's named points (no sleeps): after verification, and after
// the cut-over's commit.
func TestBrowserCancelRefusedPastCutover(t *testing.T) {
	a := newBrowserApp(t)
	verified, cutover := newBrowserGate(t, "verified"), newBrowserGate(t, "cutover")
	a.points.set(func(point string) { verified.hold(point); cutover.hold(point) })
	want := testenv.Manifest(t, testenv.Mem(a.src, "user01"), "INBOX")
	job := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1}, "user01")
	verified.wait(t)

	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	jobPath := fmt.Sprintf("/jobs/%d", job.ID)
	b.open(jobPath)
	browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })
	if got := b.text("[data-testid=move-user01] [data-field=phase]"); got != string(model.PhaseVerify) {
		t.Fatalf("phase shown while the move is held after verification = %q, want verify", got)
	}
	if !browserEval[bool](b, cancelShownExpr("user01")) {
		t.Fatal("Cancel is not shown for a move that verifies")
	}

	// A second tab: the admin clicks Cancel and gets the confirmation.
	c := b.newTab()
	c.open(jobPath)
	c.submit("[data-testid=move-user01] [data-testid=cancel-move] button")
	if got := c.text("[data-testid=cancel-question]"); got != "Cancel the move of user01?" {
		t.Errorf("confirmation asks %q", got)
	}
	if got := c.text("[data-testid=cancel-note]"); got != "Its partial copy on the target is removed; the mailbox stays on its source." {
		t.Errorf("confirmation says %q", got)
	}

	// Meanwhile the move takes its cut-over: the directory names the target.
	verified.let()
	cutover.wait(t)
	if u, err := a.dir.Lookup(context.Background(), "user01"); err != nil || u.Home != testenv.DstHome {
		t.Fatalf("user01's home at the cut-over point = %q, %v; want %q", u.Home, err, testenv.DstHome)
	}
	// The live page hides Cancel by the phase it is told about.
	browserPoll(b, "Cancel hidden on the live page past the cut-over",
		fmt.Sprintf(`[document.querySelector("[data-testid=move-user01] [data-field=phase]").textContent, %s].join(" ")`, cancelShownExpr("user01")),
		func(s string) bool { return s == "cutover false" })

	// Confirming now is refused, and says why.
	if status := c.submitStatus("[data-testid=cancel-yes]"); status != 409 {
		t.Errorf("confirming the cancel past the cut-over: status %d, want 409", status)
	}
	wantRefusal := "user01's mailbox is past its cut-over (the directory already names the target); it cannot be cancelled and will finish its move."
	if got := c.text("[data-testid=cancel-refused]"); got != wantRefusal {
		t.Errorf("refusal says %q, want %q", got, wantRefusal)
	}
	if got := c.text("h1"); got != "Not possible now" {
		t.Errorf("refusal's heading = %q", got)
	}

	// The move goes on to the end.
	cutover.let()
	browserPoll(b, "row done", `document.querySelector("[data-testid=move-user01] [data-field=state]").textContent`,
		func(s string) bool { return s == string(model.MoveDone) })
	if got := a.waitJob(t, job.ID); got.State != model.JobDone {
		t.Errorf("job = %s, want done", got.State)
	}
	moves, err := a.db.Moves(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := moves[0]
	if m.State != model.MoveDone || m.CancelRequested || m.SourceRemoved.IsZero() {
		t.Errorf("move = %s, cancel requested %v, source removed %v; want done, no request, removed", m.State, m.CancelRequested, m.SourceRemoved)
	}
	if got := testenv.Manifest(t, testenv.Mem(a.dst, "user01"), "INBOX"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("target INBOX holds %d messages, want the source's %d", len(got), len(want))
	}
	if got := testenv.Manifest(t, testenv.Mem(a.src, "user01"), "INBOX"); len(got) != 0 {
		t.Errorf("source INBOX holds %d messages after the move, want 0", len(got))
	}
	// The mailbox page: done, no Cancel, and nothing about a cancel in the
	// history.
	c.open(fmt.Sprintf("/moves/%d", m.ID))
	if got := c.text("[data-testid=move-state]"); got != string(model.MoveDone) {
		t.Errorf("mailbox page state = %q, want done", got)
	}
	if shown := browserEval[string](c, `(function(){var s=document.querySelector("span[data-unless-phase]");return s?String(!s.hidden):"none"})()`); shown != "false" {
		t.Errorf("mailbox page of a done move: Cancel shown = %s, want a hidden one", shown)
	}
	if hist := c.text("[data-testid=events]"); strings.Contains(hist, "cancel") {
		t.Errorf("history of the finished move mentions a cancel: %s", hist)
	}
}

// Cancelling a queued mailbox of a scheduled job: the confirmation, then
// the row shows cancelled without its Cancel button (also on a page that
// was already open, by its live update), and the history has the entry.
func TestBrowserCancelQueuedMailbox(t *testing.T) {
	a := newBrowserApp(t)
	job := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		StartAt: time.Now().Add(24 * time.Hour)}, "user01", "user02")
	jobPath := fmt.Sprintf("/jobs/%d", job.ID)

	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	b.open(jobPath)
	browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })

	c := b.newTab()
	c.open(jobPath)
	if !browserEval[bool](c, cancelShownExpr("user01")) {
		t.Fatal("Cancel is not shown for a queued mailbox")
	}
	c.submit("[data-testid=move-user01] [data-testid=cancel-move] button")
	if got := c.text("[data-testid=cancel-question]"); got != "Cancel the move of user01?" {
		t.Errorf("confirmation asks %q", got)
	}
	// Back leaves it alone.
	c.submit("[data-testid=cancel-back]")
	if c.path() != jobPath {
		t.Errorf("Back leads to %s, want %s", c.path(), jobPath)
	}
	if m, _ := a.db.Moves(context.Background(), job.ID); m[0].State != model.MoveQueued {
		t.Fatalf("after Back user01 is %s, want queued", m[0].State)
	}
	c.submit("[data-testid=move-user01] [data-testid=cancel-move] button")
	c.submit("[data-testid=cancel-yes]")
	if got := c.text("[data-testid=flash]"); got != "user01's move was cancelled; nothing had been copied." {
		t.Errorf("flash after the cancel = %q", got)
	}
	if got := c.text("[data-testid=move-user01] [data-field=state]"); got != string(model.MoveCancelled) {
		t.Errorf("row of user01 after the cancel = %q, want cancelled", got)
	}
	if browserEval[bool](c, cancelShownExpr("user01")) {
		t.Error("the cancelled row still shows Cancel")
	}
	if !browserEval[bool](c, cancelShownExpr("user02")) {
		t.Error("user02's row lost its Cancel")
	}
	// The page opened before the cancel follows by its live update.
	browserPoll(b, "live row cancelled", fmt.Sprintf(`[document.querySelector("[data-testid=move-user01] [data-field=state]").textContent, %s].join(" ")`,
		cancelShownExpr("user01")), func(s string) bool { return s == "cancelled false" })

	c.submit("[data-testid=move-user01] a")
	if got := c.text("[data-testid=move-state]"); got != string(model.MoveCancelled) {
		t.Errorf("mailbox page state = %q, want cancelled", got)
	}
	if hist := c.text("[data-testid=events]"); !strings.Contains(hist, "cancelled before it started, by alice") {
		t.Errorf("history lacks the cancel: %q", hist)
	}
	if got, _ := a.db.Job(context.Background(), job.ID); got.State != model.JobQueued {
		t.Errorf("job = %s with user02 still queued, want queued", got.State)
	}
}
