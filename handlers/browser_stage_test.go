package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/web"
	"github.com/movewizard/movewizard/web/format"
)

// A staged job in Chromium: the live job page turns the rows to "synced,
// waiting to complete" as the moves park (one is held after verification
// until the page is live, so that the label comes by live.js); the
// helpdesk's user page shows it with the completion time; the admin
// completes the job from its page through the confirmation, the live page
// shows the moves done, and the mailbox page has the cut-over window.
func TestBrowserStagedComplete(t *testing.T) {
	a := newBrowserApp(t)
	ctx := context.Background()
	verified := newBrowserGate(t, "verified")
	a.points.set(verified.hold)
	want := map[string][]string{}
	for _, uid := range []string{"user01", "user02"} {
		want[uid] = testenv.Manifest(t, testenv.Mem(a.src, uid), "INBOX")
	}
	completeAt := time.Now().Add(4*24*time.Hour + time.Hour).Truncate(time.Second)
	job := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 2,
		Stage: true, CompleteAt: completeAt}, "user01", "user02")
	jobPath := fmt.Sprintf("/jobs/%d", job.ID)
	verified.wait(t)

	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	b.open(jobPath)
	browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })
	if got := b.text("[data-testid=job-mode]"); strings.TrimSpace(got) != "sync, then wait to complete" {
		t.Errorf("job mode = %q", got)
	}
	if got, want := b.text("[data-testid=job-completes]"), "completes "+format.Time(completeAt)+" (in 4d "; !strings.HasPrefix(got, want) {
		t.Errorf("job completes = %q, want it to start with %q", got, want)
	}
	verified.let()
	rowStates := `["user01","user02"].map(function(u){return document.querySelector("[data-testid=move-"+u+"] [data-field=state]").textContent}).join("|")`
	browserPoll(b, "rows synced, live", rowStates, func(s string) bool {
		return s == "synced, waiting to complete|synced, waiting to complete"
	})
	browserPoll(b, "synced pill, live", `(function(){var e=document.querySelector("[data-testid=count-synced]");return e?e.textContent:""})()`,
		func(s string) bool { return s == "2 synced, waiting" })
	if got := b.text("[data-testid=job-state]"); got != "running" {
		t.Errorf("job state while its moves wait = %q, want running", got)
	}
	moves, err := a.db.Moves(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range moves {
		if m.State != model.MoveSynced || m.Syncs < 1 || m.LastSyncAt.IsZero() || !m.DirectoryUpdated.IsZero() {
			t.Errorf("%s = %s, %d syncs, last %v, directory updated %v; want synced, directory untouched", m.UID, m.State, m.Syncs, m.LastSyncAt, m.DirectoryUpdated)
		}
	}

	// The helpdesk's user page, in a browser of its own.
	h := newBrowser(t, a.ts.URL)
	h.signIn("hank", "hankpw")
	h.open("/users/user01")
	if got := h.text("[data-testid=user-current-state]"); got != "synced, waiting to complete" {
		t.Errorf("user page state = %q, want synced, waiting to complete", got)
	}
	if got := h.text("[data-testid=user-current-synced]"); !strings.HasPrefix(got, ", last synced at ") {
		t.Errorf("user page last sync = %q", got)
	}
	if got, want := h.text("[data-testid=user-current-completes]"), "; it completes "+format.Time(completeAt)+" (in 4d "; !strings.HasPrefix(got, want) {
		t.Errorf("user page completion = %q, want it to start with %q", got, want)
	}
	if n := h.count("[data-testid=complete-move]"); n != 0 {
		t.Errorf("helpdesk's user page has %d Complete buttons", n)
	}

	// Complete now, confirmed.
	b.submit("[data-testid=complete-job] button")
	if got := b.text("[data-testid=complete-question]"); got != fmt.Sprintf("Complete job #%d now?", job.ID) {
		t.Errorf("confirmation asks %q", got)
	}
	if got := b.text("[data-testid=complete-note]"); !strings.Contains(got, "a last sync, the directory switch, the final delta") ||
		!strings.Contains(got, "then the source is removed") {
		t.Errorf("confirmation says %q", got)
	}
	b.submit("[data-testid=complete-yes]")
	if p := b.path(); p != jobPath {
		t.Errorf("after confirming: on %s, want %s", p, jobPath)
	}
	if got := b.text("main"); !strings.Contains(got, "2 mailboxes asked to complete") {
		t.Errorf("job page after Complete now lacks the flash: %s", got)
	}
	browserPoll(b, "live status after completing", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })
	browserPoll(b, "rows done, live", rowStates, func(s string) bool { return s == "done|done" })
	browserPoll(b, "job done, live", `document.querySelector("[data-testid=job-state]").textContent`, func(s string) bool { return s == "done" })

	if got := a.waitJob(t, job.ID); got.State != model.JobDone {
		t.Errorf("job = %s, want done", got.State)
	}
	moves, err = a.db.Moves(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range moves {
		if m.State != model.MoveDone || m.CutoverWindow() <= 0 || m.SourceRemoved.IsZero() {
			t.Errorf("%s = %s, cut-over window %v, source removed %v; want done, measured, removed", m.UID, m.State, m.CutoverWindow(), m.SourceRemoved)
		}
		if got := testenv.Manifest(t, testenv.Mem(a.dst, m.UID), "INBOX"); strings.Join(got, "\n") != strings.Join(want[m.UID], "\n") {
			t.Errorf("target INBOX of %s holds %d messages, want the source's %d", m.UID, len(got), len(want[m.UID]))
		}
		if got := testenv.Manifest(t, testenv.Mem(a.src, m.UID), "INBOX"); len(got) != 0 {
			t.Errorf("source INBOX of %s holds %d messages after completion, want 0", m.UID, len(got))
		}
	}
	m := moves[0]
	b.open(fmt.Sprintf("/moves/%d", m.ID))
	if got := b.text("[data-testid=move-state]"); got != "done" {
		t.Errorf("mailbox page state = %q, want done", got)
	}
	if got, want := b.text("[data-testid=move-cutover]"), web.CutoverWindow(m); got != want || got == "—" {
		t.Errorf("mailbox page cut-over window = %q, want %q (measured)", got, want)
	}
	b.open(jobPath)
	if got, want := b.text("[data-testid=cutover-"+m.UID+"]"), "cut-over "+web.CutoverWindow(m); got != want {
		t.Errorf("job page row's cut-over = %q, want %q", got, want)
	}
}
