package db

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestEvents(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	j, ms := mustCreateJob(t, d, "alice", "bob")
	add := []struct {
		moveID        int64
		kind, message string
	}{
		{ms[0].ID, "phase", "copy"},
		{0, "job", "started"}, // a job event, not in any move's history
		{ms[1].ID, "phase", "preflight"},
		{ms[0].ID, "error", "fetch failed"},
		{ms[0].ID, "phase", "verify"},
	}
	for _, e := range add {
		if err := d.AddEvent(ctx, j.ID, e.moveID, e.kind, e.message); err != nil {
			t.Fatalf("AddEvent(%v) = %v", e, err)
		}
	}
	got, err := d.Events(ctx, ms[0].ID)
	if err != nil {
		t.Fatalf("Events() = %v", err)
	}
	var msgs []string
	for i, e := range got {
		msgs = append(msgs, eventText(e))
		if e.JobID != j.ID || e.MoveID != ms[0].ID || !e.At.Equal(testNow) || e.At.Location() != time.UTC {
			t.Errorf("Events()[%d] = %+v, want job %d, move %d, at %v UTC", i, e, j.ID, ms[0].ID, testNow)
		}
		if i > 0 && e.ID <= got[i-1].ID {
			t.Errorf("Events() ids not ascending: %d after %d", e.ID, got[i-1].ID)
		}
	}
	want := []string{"phase copy", "error fetch failed", "phase verify"}
	if len(msgs) != len(want) {
		t.Fatalf("Events() = %v, want %v", msgs, want)
	}
	for i := range want {
		if msgs[i] != want[i] {
			t.Errorf("Events()[%d] = %q, want %q", i, msgs[i], want[i])
		}
	}
	if got, err := d.Events(ctx, 4242); err != nil || len(got) != 0 {
		t.Errorf("Events(4242) = %+v, %v, want none", got, err)
	}
}

func eventText(e model.Event) string { return e.Kind + " " + e.Message }

func TestAudit(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	// Three entries: admin starts the job, bob cancels, carol retries.
	j, ms := mustCreateJob(t, d, "alice")
	if err := d.RequestCancel(ctx, ms[0].ID, "bob"); err != nil {
		t.Fatalf("RequestCancel() = %v", err)
	}
	mustAddAudit(t, d, "carol", "retry mailbox", j.ID, ms[0].ID, "alice")

	tests := []struct {
		limit int
		want  []string
	}{
		{10, []string{"carol retry mailbox", "bob cancel mailbox", "admin start job"}},
		{2, []string{"carol retry mailbox", "bob cancel mailbox"}},
		{0, nil},
	}
	for _, tt := range tests {
		t.Run("limit="+strconv.Itoa(tt.limit), func(t *testing.T) {
			got, err := d.AuditBefore(ctx, 0, tt.limit)
			if err != nil {
				t.Fatalf("Audit(%d) = %v", tt.limit, err)
			}
			var acts []string
			for _, a := range got {
				acts = append(acts, a.Actor+" "+a.Action)
				if !a.At.Equal(testNow) {
					t.Errorf("Audit(%d) entry %+v at %v, want %v", tt.limit, a, a.At, testNow)
				}
			}
			if len(acts) != len(tt.want) {
				t.Fatalf("Audit(%d) = %v, want %v", tt.limit, acts, tt.want)
			}
			for i := range acts {
				if acts[i] != tt.want[i] {
					t.Errorf("Audit(%d)[%d] = %q, want %q", tt.limit, i, acts[i], tt.want[i])
				}
			}
		})
	}
	got, err := d.AuditBefore(ctx, 0, 1)
	if err != nil {
		t.Fatalf("Audit(1) = %v", err)
	}
	want := AuditEntry{ID: got[0].ID, At: testNow.UTC(), Actor: "carol", Action: "retry mailbox",
		JobID: j.ID, MoveID: ms[0].ID, Detail: "alice"}
	if got[0] != want {
		t.Errorf("Audit(1) = %+v, want %+v", got[0], want)
	}
}
