package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestJobCancel(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01", "user02")
	resp, _ := a.post(t, admin, fmt.Sprintf("/jobs/%d/cancel", j.ID), nil)
	body := jobsFollow(t, a, admin, resp)
	if !strings.Contains(body, `data-testid="flash"`) || !strings.Contains(body, "is cancelled") {
		t.Errorf("job page after cancel has no flash message")
	}
	if strings.Contains(body, `data-testid="cancel-job"`) {
		t.Error("cancelled job still offers to cancel it")
	}
	got, err := a.db.Job(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.JobCancelled {
		t.Errorf("job state = %s, want cancelled", got.State)
	}
	for _, m := range jobsMoves(t, a, j.ID) {
		if m.State != model.MoveCancelled {
			t.Errorf("move of %s = %s, want cancelled", m.UID, m.State)
		}
	}
	t.Run("twice", func(t *testing.T) {
		if resp, _ := a.post(t, admin, fmt.Sprintf("/jobs/%d/cancel", j.ID), nil); resp.StatusCode != http.StatusConflict {
			t.Errorf("second cancel = %d, want 409", resp.StatusCode)
		}
	})
	t.Run("audit", func(t *testing.T) {
		entries, err := a.db.AuditBefore(context.Background(), 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[0].Action != "cancel job" || entries[0].Actor != "alice" {
			t.Errorf("latest audit entry = %+v, want alice's cancel job", entries)
		}
	})
}

func TestMoveCancel(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := jobsCreateLater(t, a, "user01")
	m := jobsMoves(t, a, j.ID)[0]
	resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", m.ID), nil)
	body := jobsFollow(t, a, admin, resp)
	if !strings.Contains(body, "user01&#39;s move was cancelled") {
		t.Errorf("job page after cancelling a move lacks the flash message")
	}
	got, err := a.db.Move(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.MoveCancelled {
		t.Errorf("queued move after cancel = %s, want cancelled at once", got.State)
	}
	t.Run("finished move", func(t *testing.T) {
		done := a.createJob(t, "user02")
		a.waitJob(t, done.ID)
		dm := jobsMoves(t, a, done.ID)[0]
		if resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/cancel", dm.ID), nil); resp.StatusCode != http.StatusConflict {
			t.Errorf("cancel a done move = %d, want 409", resp.StatusCode)
		}
	})
}

func TestMoveRetry(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	first := jobsCreateLater(t, a, "user01", "user02")
	if resp, _ := a.post(t, admin, fmt.Sprintf("/jobs/%d/cancel", first.ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel = %d", resp.StatusCode)
	}
	moves := jobsMoves(t, a, first.ID)

	resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/retry", moves[0].ID), nil)
	body := jobsFollow(t, a, admin, resp)
	if !strings.Contains(body, "The move of user01 is queued again (attempt 2)") {
		t.Error("job page after retry lacks the flash message")
	}
	got, err := a.db.Move(context.Background(), moves[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.MoveQueued || got.Attempt != 2 {
		t.Errorf("retried move = %s attempt %d, want queued attempt 2", got.State, got.Attempt)
	}

	t.Run("queued move", func(t *testing.T) {
		if resp, _ := a.post(t, admin, fmt.Sprintf("/moves/%d/retry", moves[0].ID), nil); resp.StatusCode != http.StatusConflict {
			t.Errorf("retry a queued move = %d, want 409", resp.StatusCode)
		}
	})
	t.Run("user held by another job", func(t *testing.T) {
		other := jobsCreateLater(t, a, "user02")
		resp, body := a.post(t, admin, fmt.Sprintf("/moves/%d/retry", moves[1].ID), nil)
		want := fmt.Sprintf("already in unfinished job %d", other.ID)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, want) {
			t.Errorf("retry of a held user = %d, want 409 saying %q; body %s", resp.StatusCode, want, body)
		}
	})
}

// bulkCreateLater makes a job (policy abandon) that starts in an hour, so
// that its moves stay as the test puts them.
func bulkCreateLater(t *testing.T, a *testApp, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon,
		Parallel: 2, StartAt: time.Now().Add(time.Hour)}, uids)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func bulkIDs(moves ...model.Move) []string {
	var out []string
	for _, m := range moves {
		out = append(out, fmt.Sprint(m.ID))
	}
	return out
}

func TestJobRetryAll(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := bulkCreateLater(t, a, "user01", "user02", "user03")
	if resp, _ := a.post(t, admin, fmt.Sprintf("/jobs/%d/cancel", j.ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel = %d", resp.StatusCode)
	}
	path := fmt.Sprintf("/jobs/%d/retry", j.ID)
	form := url.Values{"policy": {"skip"}, "max_bad": {"5"}, "back": {"state=cancelled&sort=mailbox&dir=asc"}}

	resp, body := a.post(t, admin, path, form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s without confirm = %d, want 200 (the confirmation page)", path, resp.StatusCode)
	}
	for _, s := range []string{fmt.Sprintf("Retry 3 mailboxes of job #%d?", j.ID), "user01 (cancelled)", "skips up to 5 bad items",
		`data-testid="bulk-yes"`, `name="confirm" value="yes"`, fmt.Sprintf(`href="/jobs/%d?dir=asc&amp;sort=mailbox&amp;state=cancelled"`, j.ID)} {
		if !strings.Contains(body, s) {
			t.Errorf("confirmation page lacks %q", s)
		}
	}
	for _, m := range jobsMoves(t, a, j.ID) {
		if m.State != model.MoveCancelled {
			t.Fatalf("before confirming, %s is %s, want still cancelled", m.UID, m.State)
		}
	}

	// user03 joins another job meanwhile: its retry is refused, the rest go.
	other := bulkCreateLater(t, a, "user03")
	form.Set("confirm", "yes")
	resp, _ = a.post(t, admin, path, form)
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "state=cancelled") {
		t.Errorf("redirect to %q, want back to the filtered page", loc)
	}
	body = jobsFollow(t, a, admin, resp)
	if want := "Retried 2; 1 in another unfinished job (user03). The job now skips up to 5 bad items per mailbox."; !strings.Contains(body, want) {
		t.Errorf("job page after retry all lacks %q", want)
	}
	got, _ := a.db.Job(context.Background(), j.ID)
	if got.Policy != model.PolicySkip || got.MaxBad != 5 {
		t.Errorf("job policy = %s/%d, want skip/5", got.Policy, got.MaxBad)
	}
	states := map[string]model.MoveState{}
	for _, m := range jobsMoves(t, a, j.ID) {
		states[m.UID] = m.State
	}
	if states["user01"] != model.MoveQueued || states["user02"] != model.MoveQueued || states["user03"] != model.MoveCancelled {
		t.Errorf("after retry all: %v, want user01 and user02 queued, user03 cancelled", states)
	}
	entries, err := a.db.AuditBefore(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range entries {
		if e.JobID == j.ID && e.Actor == "alice" {
			actions[e.Action]++
		}
	}
	if actions["change policy"] != 1 || actions["retry mailbox"] != 2 {
		t.Errorf("audit of job %d = %v, want one policy change and two retries by alice", j.ID, actions)
	}

	t.Run("nothing to retry", func(t *testing.T) {
		resp, _ := a.post(t, admin, fmt.Sprintf("/jobs/%d/retry", other.ID), url.Values{})
		if body := jobsFollow(t, a, admin, resp); !strings.Contains(body, "nothing to retry") {
			t.Errorf("retry all of a job with only a queued mailbox does not say there is nothing to retry")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, f := range []url.Values{
			{"policy": {"maybe"}},
			{"policy": {"skip"}, "max_bad": {"-1"}},
			{"policy": {"skip"}, "max_bad": {"many"}},
			{"policy": {"skip"}, "max_bad": {"1001"}},
		} {
			if resp, body := a.post(t, admin, path, f); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "error-message") {
				t.Errorf("POST %s %v = %d, want 400 with a message", path, f, resp.StatusCode)
			}
		}
		if resp, _ := a.post(t, admin, "/jobs/999/retry", url.Values{}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("retry all of no job = %d, want 404", resp.StatusCode)
		}
	})
	t.Run("helpdesk", func(t *testing.T) {
		if resp, _ := a.post(t, a.helpdesk(t), path, url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk retry all = %d, want 403", resp.StatusCode)
		}
	})
}

func TestJobMovesBulk(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	j := bulkCreateLater(t, a, "user01", "user02", "user03")
	moves := jobsMoves(t, a, j.ID)
	path := fmt.Sprintf("/jobs/%d/moves", j.ID)

	resp, body := a.post(t, admin, path, url.Values{"action": {"cancel"}, "move": bulkIDs(moves[0], moves[1], moves[0])})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s without confirm = %d, want 200", path, resp.StatusCode)
	}
	for _, s := range []string{"Cancel 2 mailboxes?", "user01 (queued)", "user02 (queued)", `data-testid="bulk-back"`} {
		if !strings.Contains(body, s) {
			t.Errorf("confirmation page lacks %q", s)
		}
	}
	if strings.Contains(body, "user03") {
		t.Error("confirmation page lists user03, which was not selected")
	}
	resp, _ = a.post(t, admin, path, url.Values{"action": {"cancel"}, "move": bulkIDs(moves[0], moves[1]), "confirm": {"yes"}})
	if body := jobsFollow(t, a, admin, resp); !strings.Contains(body, "Cancelling 2.") {
		t.Errorf("job page after bulk cancel lacks the outcome")
	}
	for _, m := range jobsMoves(t, a, j.ID)[:2] {
		if !m.CancelRequested && m.State != model.MoveCancelled {
			t.Errorf("%s after bulk cancel: %s, cancel requested %v", m.UID, m.State, m.CancelRequested)
		}
	}

	resp, _ = a.post(t, admin, path, url.Values{"action": {"retry"}, "move": bulkIDs(moves[2]), "confirm": {"yes"}})
	if body := jobsFollow(t, a, admin, resp); !strings.Contains(body, "Retried 0; 1 were not failed, abandoned or cancelled (user03).") {
		t.Errorf("bulk retry of a queued mailbox does not say why it was refused")
	}

	t.Run("bad input", func(t *testing.T) {
		other := bulkCreateLater(t, a, "user04")
		many := make([]string, 201)
		for i := range many {
			many[i] = fmt.Sprint(i + 1)
		}
		for _, tc := range []struct {
			name string
			form url.Values
			want string
		}{
			{"no action", url.Values{"move": bulkIDs(moves[0])}, "is not an action"},
			{"unknown action", url.Values{"action": {"delete"}, "move": bulkIDs(moves[0])}, "is not an action"},
			{"nothing selected", url.Values{"action": {"cancel"}}, "Select at least one mailbox."},
			{"too many", url.Values{"action": {"cancel"}, "move": many}, "Select at most 200 mailboxes at once; 201 were selected."},
			{"not a number", url.Values{"action": {"cancel"}, "move": {"x"}}, "is not a move number"},
			{"another job's move", url.Values{"action": {"cancel"}, "move": bulkIDs(jobsMoves(t, a, other.ID)...)}, "are not in job"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := a.post(t, admin, path, tc.form)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
					t.Errorf("POST %s %v = %d, want 400 saying %q", path, tc.form, resp.StatusCode, tc.want)
				}
			})
		}
	})
	t.Run("helpdesk", func(t *testing.T) {
		if resp, _ := a.post(t, a.helpdesk(t), path, url.Values{"action": {"cancel"}, "move": bulkIDs(moves[2]), "confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk bulk cancel = %d, want 403", resp.StatusCode)
		}
	})
}
