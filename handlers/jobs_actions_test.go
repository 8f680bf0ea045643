package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
	if !strings.Contains(body, "The move of user01 is being cancelled") {
		t.Errorf("job page after cancelling a move lacks the flash message")
	}
	got, err := a.db.Move(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CancelRequested {
		t.Error("move cancel not requested")
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
