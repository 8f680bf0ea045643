package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

// cancelSetMove puts a move of a job that has not started (the runner
// leaves it alone) into a state and phase, as the mover would leave it.
func cancelSetMove(t *testing.T, a *testApp, m model.Move, state model.MoveState, phase model.Phase) model.Move {
	t.Helper()
	m.State, m.Phase = state, phase
	if err := a.db.SaveMove(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// cancelButtonHidden reports whether the page renders move id's Cancel
// button hidden; it fails the test when the page has none.
func cancelButtonHidden(t *testing.T, body string, id int64) bool {
	t.Helper()
	re := regexp.MustCompile(`<span data-when="[^"]*" data-unless-phase="[^"]*"( hidden)?><form class="inline" method="get" action="/moves/` +
		fmt.Sprint(id) + `/cancel"`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no Cancel button for move %d", id)
	}
	return m[1] != ""
}

func TestMoveCancelConfirmPage(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01")
	m := jobsMoves(t, a, j.ID)[0]
	path := fmt.Sprintf("/moves/%d/cancel", m.ID)

	// The job page's Cancel leads here with a plain GET form.
	if _, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", j.ID)); cancelButtonHidden(t, body, m.ID) {
		t.Error("job page hides the Cancel button of a queued move")
	}
	resp, body := a.get(t, admin, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, resp.StatusCode)
	}
	for _, s := range []string{
		"Cancel the move of user01?",
		"Its partial copy on the target is removed; the mailbox stays on its source.",
		`<form method="post" action="` + path + `">`,
		`data-testid="cancel-yes">Confirm</button>`,
		fmt.Sprintf(`href="/jobs/%d" data-testid="cancel-back">Back</a>`, j.ID),
	} {
		if !strings.Contains(body, s) {
			t.Errorf("confirmation page lacks %q", s)
		}
	}
	if got, _ := a.db.Move(context.Background(), m.ID); got.State != model.MoveQueued || got.CancelRequested {
		t.Errorf("after the confirmation page the move is %s (cancel requested %v), want untouched", got.State, got.CancelRequested)
	}

	t.Run("from the mailbox page", func(t *testing.T) {
		_, page := a.get(t, admin, fmt.Sprintf("/moves/%d", m.ID))
		if !strings.Contains(page, `<input type="hidden" name="from" value="move">`) || cancelButtonHidden(t, page, m.ID) {
			t.Error("mailbox page lacks its Cancel button leading to the confirmation")
		}
		_, body := a.get(t, admin, path+"?from=move")
		for _, s := range []string{`<input type="hidden" name="from" value="move">`,
			fmt.Sprintf(`href="/moves/%d" data-testid="cancel-back">Back</a>`, m.ID)} {
			if !strings.Contains(body, s) {
				t.Errorf("confirmation page from the mailbox page lacks %q", s)
			}
		}
	})
	t.Run("helpdesk", func(t *testing.T) {
		if resp, _ := a.get(t, a.helpdesk(t), path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk GET %s = %d, want 403", path, resp.StatusCode)
		}
	})
	t.Run("cross-site post", func(t *testing.T) {
		if resp := a.crossSitePost(t, admin, path, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, resp.StatusCode)
		}
		if got, _ := a.db.Move(context.Background(), m.ID); got.State != model.MoveQueued {
			t.Errorf("after a cross-site POST the move is %s, want queued", got.State)
		}
	})
	t.Run("bad and missing", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want int
		}{{"/moves/abc/cancel", http.StatusBadRequest}, {"/moves/999/cancel", http.StatusNotFound},
			{"/jobs/abc/cancel", http.StatusBadRequest}, {"/jobs/999/cancel", http.StatusNotFound}} {
			if resp, _ := a.get(t, admin, tc.path); resp.StatusCode != tc.want {
				t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		}
	})
}

// Cancelling a queued mailbox of a scheduled job ends it at once: the
// row leaves queued, loses its Cancel button, and the history says so.
func TestMoveCancelQueued(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01", "user02")
	m := jobsMoves(t, a, j.ID)[0]
	resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", m.ID), nil)
	body := jobsFollow(t, a, admin, resp)
	if !strings.Contains(body, "user01&#39;s move was cancelled; nothing had been copied.") {
		t.Errorf("job page after cancelling a queued move lacks the flash; body %s", body)
	}
	if !cancelButtonHidden(t, body, m.ID) {
		t.Error("job page still shows the Cancel button of the cancelled move")
	}
	got, err := a.db.Move(context.Background(), m.ID)
	if err != nil || got.State != model.MoveCancelled {
		t.Fatalf("move after cancel = %s, %v; want cancelled", got.State, err)
	}
	// Published, so that live pages update without the runner.
	if p, ok := a.broker.Latest([]int64{m.ID})[m.ID]; !ok || p.State != model.MoveCancelled {
		t.Errorf("broker's latest state of the move = %+v (known %v), want cancelled", p, ok)
	}
	_, page := a.get(t, admin, fmt.Sprintf("/moves/%d", m.ID))
	if !strings.Contains(page, "cancelled before it started, by alice") {
		t.Error("mailbox page's history lacks the cancel")
	}
	if jobNow, _ := a.db.Job(context.Background(), j.ID); !jobNow.State.Open() {
		t.Errorf("job = %s after one of its two mailboxes was cancelled, want still open", jobNow.State)
	}

	t.Run("from the mailbox page", func(t *testing.T) {
		m2 := jobsMoves(t, a, j.ID)[1]
		resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", m2.ID), url.Values{"from": {"move"}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, fmt.Sprintf("/moves/%d?", m2.ID)) {
			t.Fatalf("POST from the mailbox page = %d to %q, want 303 to the mailbox page", resp.StatusCode, loc)
		}
		// The last open mailbox ended: the job has its outcome now.
		if jobNow, _ := a.db.Job(context.Background(), j.ID); jobNow.FinishedAt.IsZero() {
			t.Errorf("job = %s and unfinished after its last mailbox was cancelled", jobNow.State)
		}
	})
	t.Run("finished move", func(t *testing.T) {
		resp, body := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", m.ID), nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "user01&#39;s move has already finished (cancelled); there is nothing to cancel.") {
			t.Errorf("cancel a cancelled move = %d, want 409 saying it finished; body %s", resp.StatusCode, body)
		}
	})
}

func TestMoveCancelRunning(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01")
	m := cancelSetMove(t, a, jobsMoves(t, a, j.ID)[0], model.MoveRunning, model.PhaseCopy)
	resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", m.ID), nil)
	body := jobsFollow(t, a, admin, resp)
	if want := "user01&#39;s move is being cancelled; its partial copy on the target will be removed and the mailbox stays on its source."; !strings.Contains(body, want) {
		t.Errorf("job page after cancelling a running move lacks %q", want)
	}
	got, _ := a.db.Move(context.Background(), m.ID)
	if got.State != model.MoveRunning || !got.CancelRequested {
		t.Errorf("move = %s, cancel requested %v; want running with a request", got.State, got.CancelRequested)
	}
}

// A move past its cut-over offers no Cancel, and a cancel posted anyway
// (a page loaded before the cut-over) is refused with 409 and the reason.
func TestMoveCancelPastCutover(t *testing.T) {
	const sentence = "user01&#39;s mailbox is past its cut-over (the directory already names the target); it cannot be cancelled and will finish its move."
	for _, phase := range []model.Phase{model.PhaseCutover, model.PhaseDelta, model.PhaseRemove} {
		t.Run(string(phase), func(t *testing.T) {
			a := newTestApp(t)
			admin := a.admin(t)
			j := jobsCreateLater(t, a, "user01")
			m := cancelSetMove(t, a, jobsMoves(t, a, j.ID)[0], model.MoveRunning, phase)
			if _, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", j.ID)); !cancelButtonHidden(t, body, m.ID) {
				t.Error("job page shows Cancel for a move past its cut-over")
			}
			if _, body := a.get(t, admin, fmt.Sprintf("/moves/%d", m.ID)); !cancelButtonHidden(t, body, m.ID) {
				t.Error("mailbox page shows Cancel for a move past its cut-over")
			}
			path := fmt.Sprintf("/moves/%d/cancel", m.ID)
			resp, body := a.get(t, admin, path)
			if resp.StatusCode != http.StatusConflict || !strings.Contains(body, sentence) || strings.Contains(body, "cancel-yes") {
				t.Errorf("GET %s = %d, want 409 with the reason and no Confirm; body %s", path, resp.StatusCode, body)
			}
			resp, body = a.post(t, admin, path, nil)
			if resp.StatusCode != http.StatusConflict || !strings.Contains(body, sentence) {
				t.Errorf("POST %s = %d, want 409 saying %q; body %s", path, resp.StatusCode, sentence, body)
			}
			if !strings.Contains(body, fmt.Sprintf(`href="/jobs/%d" data-testid="cancel-back"`, j.ID)) {
				t.Error("refusal lacks the way back to the job")
			}
			got, _ := a.db.Move(context.Background(), m.ID)
			if got.State != model.MoveRunning || got.Phase != phase || got.CancelRequested {
				t.Errorf("move after the refusal = %s %s, cancel requested %v; want unchanged", got.State, got.Phase, got.CancelRequested)
			}
		})
	}
}

// The job's Cancel asks first, saying what happens to each kind of
// mailbox, and the flash says what happened.
func TestJobCancelConfirm(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01", "user02", "user03")
	ms := jobsMoves(t, a, j.ID)
	cancelSetMove(t, a, ms[1], model.MoveRunning, model.PhaseCopy)
	cancelSetMove(t, a, ms[2], model.MoveRunning, model.PhaseDelta)

	_, page := a.get(t, admin, fmt.Sprintf("/jobs/%d", j.ID))
	if !strings.Contains(page, fmt.Sprintf(`<form method="get" action="/jobs/%d/cancel" data-testid="cancel-job"`, j.ID)) {
		t.Error("job page's Cancel job does not lead to the confirmation")
	}
	path := fmt.Sprintf("/jobs/%d/cancel", j.ID)
	resp, body := a.get(t, admin, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", path, resp.StatusCode)
	}
	for _, s := range []string{
		fmt.Sprintf("Cancel job #%d?", j.ID),
		"1 mailbox not started yet will not move.",
		"1 mailbox under way will stop: its partial copy on the target is removed and it stays on its source.",
		"1 mailbox past its cut-over (the directory already names the target) cannot be cancelled and will finish its move.",
		`<form method="post" action="` + path + `">`, `data-testid="cancel-yes"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("job cancel confirmation lacks %q", s)
		}
	}
	if got, _ := a.db.Job(context.Background(), j.ID); got.State != model.JobQueued {
		t.Errorf("job after the confirmation page = %s, want untouched", got.State)
	}
	resp, _ = a.post(t, admin, path, nil)
	body = jobsFollow(t, a, admin, resp)
	want := fmt.Sprintf("Job %d is cancelled: 1 mailbox cancelled (nothing had been copied); 1 mailbox being cancelled (its partial copy on the target will be removed; it stays on its source); 1 mailbox past its cut-over will finish its move.", j.ID)
	if !strings.Contains(body, want) {
		t.Errorf("job page after cancel lacks %q", want)
	}
	states := map[string]model.MoveState{}
	for _, m := range jobsMoves(t, a, j.ID) {
		states[m.UID] = m.State
	}
	if states["user01"] != model.MoveCancelled || states["user02"] != model.MoveRunning || states["user03"] != model.MoveRunning {
		t.Errorf("after job cancel: %v; want user01 cancelled, the others running", states)
	}
	if p, ok := a.broker.Latest([]int64{ms[0].ID})[ms[0].ID]; !ok || p.State != model.MoveCancelled {
		t.Errorf("broker's latest state of user01 = %+v (known %v), want cancelled", p, ok)
	}
	t.Run("finished job", func(t *testing.T) {
		done := jobsCreateLater(t, a, "user04")
		a.post(t, admin, fmt.Sprintf("/jobs/%d/cancel", done.ID), nil)
		if resp, _ := a.get(t, admin, fmt.Sprintf("/jobs/%d/cancel", done.ID)); resp.StatusCode != http.StatusConflict {
			t.Errorf("GET cancel of a cancelled job = %d, want 409", resp.StatusCode)
		}
		if got, _ := a.db.Job(context.Background(), done.ID); got.State != model.JobCancelled || got.FinishedAt.IsZero() {
			t.Errorf("job of only queued moves after cancel = %s, finished %v; want cancelled at once", got.State, got.FinishedAt)
		}
	})
}

// The selected mailboxes' cancel follows the same rules, per mailbox: a
// queued one ends at once (and is published), a running one is asked to
// stop, one past its cut-over is named as refused.
func TestJobMovesBulkCancelPastCutover(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01", "user02", "user03")
	ms := jobsMoves(t, a, j.ID)
	cancelSetMove(t, a, ms[1], model.MoveRunning, model.PhaseCopy)
	cancelSetMove(t, a, ms[2], model.MoveRunning, model.PhaseRemove)
	path := fmt.Sprintf("/jobs/%d/moves", j.ID)
	_, body := a.post(t, admin, path, url.Values{"action": {"cancel"}, "move": bulkIDs(ms...)})
	if !strings.Contains(body, "Mailboxes past their cut-over (the directory already names the target) cannot be cancelled and finish their move.") {
		t.Error("bulk cancel confirmation does not say what happens past the cut-over")
	}
	resp, _ := a.post(t, admin, path, url.Values{"action": {"cancel"}, "move": bulkIDs(ms...), "confirm": {"yes"}})
	body = jobsFollow(t, a, admin, resp)
	if want := "Cancelling 2; 1 are past their cut-over (the directory already names the target) and will finish their move (user03)."; !strings.Contains(body, want) {
		t.Errorf("job page after bulk cancel lacks %q", want)
	}
	now := jobsMoves(t, a, j.ID)
	if now[0].State != model.MoveCancelled || !now[1].CancelRequested || now[2].CancelRequested || now[2].State != model.MoveRunning {
		t.Errorf("after bulk cancel: %s; %s (request %v); %s (request %v); want cancelled, a request, untouched",
			now[0].State, now[1].State, now[1].CancelRequested, now[2].State, now[2].CancelRequested)
	}
	if p, ok := a.broker.Latest([]int64{ms[0].ID})[ms[0].ID]; !ok || p.State != model.MoveCancelled {
		t.Errorf("broker's latest state of user01 = %+v (known %v), want cancelled", p, ok)
	}
}
