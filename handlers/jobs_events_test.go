package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// jobsEvent is one server-sent event.
type jobsEvent struct{ name, data string }

// jobsProgress is what live.js reads from a move event.
type jobsProgress struct {
	MoveID     int64   `json:"move_id"`
	JobID      int64   `json:"job_id"`
	UID        string  `json:"uid"`
	State      string  `json:"state"`
	MsgsDone   int64   `json:"msgs_done"`
	MsgsTotal  int64   `json:"msgs_total"`
	BytesDone  int64   `json:"bytes_done"`
	BytesTotal int64   `json:"bytes_total"`
	Rate       float64 `json:"rate"`
	ETASeconds float64 `json:"eta_seconds"`
}

// jobsStream reads events from an SSE body, skipping comments.
type jobsStream struct{ sc *bufio.Scanner }

func (s jobsStream) next(t *testing.T) jobsEvent {
	t.Helper()
	var ev jobsEvent
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
	return ev
}

// jobsOpenEvents connects to a job's event stream. The context bounds the
// whole test so that a broken runner fails it instead of hanging it.
func jobsOpenEvents(t *testing.T, a *testApp, c *http.Client, ctx context.Context, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// jobsBatch is one snapshot or update event.
type jobsBatch struct {
	Moves  []jobsProgress `json:"moves"`
	Totals *struct {
		Mailboxes int   `json:"mailboxes"`
		MsgsDone  int64 `json:"msgs_done"`
		MsgsTotal int64 `json:"msgs_total"`
		ByState   []struct {
			State string `json:"state"`
			Count int    `json:"count"`
		} `json:"by_state"`
		Percent string `json:"percent"`
	} `json:"totals"`
	Job *struct {
		State string `json:"state"`
	} `json:"job"`
}

// batch decodes a snapshot or update event and checks that it names each
// move at most once (updates are coalesced per interval).
func (e jobsEvent) batch(t *testing.T) jobsBatch {
	t.Helper()
	if e.name != "snapshot" && e.name != "update" {
		t.Fatalf("event %q, want snapshot or update", e.name)
	}
	var b jobsBatch
	if err := json.Unmarshal([]byte(e.data), &b); err != nil {
		t.Fatalf("%s %q: %v", e.name, e.data, err)
	}
	seen := map[int64]bool{}
	for _, p := range b.Moves {
		if seen[p.MoveID] {
			t.Errorf("%s names move %d twice, want one coalesced row: %s", e.name, p.MoveID, e.data)
		}
		seen[p.MoveID] = true
	}
	return b
}

// jobsEventsPath is the stream of a job following the given moves.
func jobsEventsPath(jobID int64, moves ...model.Move) string {
	var ids []string
	for _, m := range moves {
		ids = append(ids, fmt.Sprint(m.ID))
	}
	return fmt.Sprintf("/jobs/%d/events?ids=%s", jobID, strings.Join(ids, ","))
}

func TestJobEvents(t *testing.T) {
	a := newTestApp(t)
	uids := []string{"user01", "user02", "user03"}
	// Hold the moves at their first login until the stream is open, so
	// that the test sees them move rather than a finished job.
	for _, uid := range uids {
		a.src.Faults().Hang(uid)
	}
	released := false
	t.Cleanup(func() {
		if !released {
			a.src.Faults().Unhang()
		}
	})
	j := a.createJob(t, uids...)
	moves := jobsMoves(t, a, j.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := jobsOpenEvents(t, a, a.helpdesk(t), ctx, jobsEventsPath(j.ID, moves...))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET events = %d, want 200", resp.StatusCode)
	}
	if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-cache" {
		t.Errorf("headers Content-Type %q Cache-Control %q, want text/event-stream and no-cache", ct, cc)
	}
	stream := jobsStream{bufio.NewScanner(resp.Body)}

	first := stream.next(t)
	if first.name != "snapshot" {
		t.Fatalf("first event = %q, want snapshot", first.name)
	}
	snap := first.batch(t)
	if snap.Totals == nil || snap.Totals.Mailboxes != 3 || snap.Job == nil {
		t.Fatalf("snapshot = %s, want the totals of 3 mailboxes and the job's state", first.data)
	}
	states := map[int64]string{}
	for _, m := range moves {
		states[m.ID] = string(m.State)
	}
	for _, p := range snap.Moves {
		if p.JobID != j.ID || states[p.MoveID] == "" {
			t.Errorf("snapshot has move %d of job %d, not one of the page", p.MoveID, p.JobID)
		}
		if p.State == string(model.MoveDone) {
			t.Errorf("snapshot: %s is already done while its login hangs", p.UID)
		}
		states[p.MoveID] = p.State
	}

	a.src.Faults().Unhang()
	released = true
	updates, jobDone, msgsDone := 0, false, int64(0)
	allDone := func() bool {
		for _, st := range states {
			if st != string(model.MoveDone) {
				return false
			}
		}
		return true
	}
	for !allDone() || !jobDone || msgsDone != 30 {
		ev := stream.next(t)
		b := ev.batch(t)
		if ev.name != "update" {
			t.Fatalf("event %q after the snapshot, want update", ev.name)
		}
		if len(b.Moves) == 0 && b.Totals == nil && b.Job == nil {
			t.Errorf("empty update %s: nothing changed, nothing should be sent", ev.data)
		}
		for _, p := range b.Moves {
			if _, ok := states[p.MoveID]; !ok {
				t.Fatalf("update for move %d, not on the page", p.MoveID)
			}
			if p.State == string(model.MoveDone) && (p.MsgsDone != 10 || p.MsgsTotal != 10) {
				t.Errorf("done move %s has %d/%d messages, want 10/10", p.UID, p.MsgsDone, p.MsgsTotal)
			}
			states[p.MoveID] = p.State
		}
		if b.Totals != nil {
			msgsDone = b.Totals.MsgsDone
		}
		if b.Job != nil {
			jobDone = b.Job.State == string(model.JobDone)
		}
		updates++
	}
	t.Logf("%d updates after the snapshot", updates)

	t.Run("reconnect gets a fresh snapshot", func(t *testing.T) {
		resp := jobsOpenEvents(t, a, a.admin(t), ctx, jobsEventsPath(j.ID, moves...))
		ev := jobsStream{bufio.NewScanner(resp.Body)}.next(t)
		if ev.name != "snapshot" {
			t.Fatalf("first event %q, want a snapshot", ev.name)
		}
		b := ev.batch(t)
		if len(b.Moves) != len(moves) || b.Job == nil || b.Job.State != string(model.JobDone) {
			t.Fatalf("snapshot after the job = %s, want every row and the job done", ev.data)
		}
		for _, p := range b.Moves {
			if p.State != string(model.MoveDone) {
				t.Errorf("snapshot after the job: %s is %s, want done", p.UID, p.State)
			}
		}
		if b.Totals == nil || b.Totals.Percent != "100%" {
			t.Errorf("snapshot after the job: totals %s, want 100%%", ev.data)
		}
	})
}

// A page follows only the rows it shows; the totals are the whole job's.
func TestJobEventsOnlyShownRows(t *testing.T) {
	a := newTestApp(t)
	j := a.createJob(t, "user01", "user02", "user03")
	moves := jobsMoves(t, a, j.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := jobsOpenEvents(t, a, a.admin(t), ctx, jobsEventsPath(j.ID, moves[1]))
	stream := jobsStream{bufio.NewScanner(resp.Body)}
	jobDone, msgsDone := false, int64(0)
	for !jobDone || msgsDone != 30 {
		b := stream.next(t).batch(t)
		for _, p := range b.Moves {
			if p.MoveID != moves[1].ID {
				t.Errorf("row of move %d (%s) sent to a page showing only move %d", p.MoveID, p.UID, moves[1].ID)
			}
		}
		if b.Totals != nil {
			if b.Totals.Mailboxes != 3 {
				t.Errorf("totals of %d mailboxes, want the whole job's 3", b.Totals.Mailboxes)
			}
			msgsDone = b.Totals.MsgsDone
		}
		if b.Job != nil {
			jobDone = b.Job.State == string(model.JobDone)
		}
	}
}

func TestJobEventsRefusals(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	j := jobsCreateLater(t, a, "user01")
	many := make([]string, 201)
	for i := range many {
		many[i] = fmt.Sprint(i + 1)
	}
	for _, tc := range []struct {
		name   string
		c      *http.Client
		path   string
		status int
	}{
		{"unknown job", a.admin(t), "/jobs/42/events", http.StatusNotFound},
		{"bad id", a.admin(t), "/jobs/x/events", http.StatusBadRequest},
		{"anonymous", a.client(t, "", ""), "/jobs/1/events", http.StatusUnauthorized},
		{"bad move id", a.admin(t), fmt.Sprintf("/jobs/%d/events?ids=1,x", j.ID), http.StatusBadRequest},
		{"too many move ids", a.admin(t), fmt.Sprintf("/jobs/%d/events?ids=%s", j.ID, strings.Join(many, ",")), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := jobsOpenEvents(t, a, tc.c, ctx, tc.path)
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("refusal sent Content-Type %q", ct)
			}
		})
	}
}

// Cancelling queued moves changes them without the runner; the live page
// must still hear of it.
func TestJobEventsSeeCancel(t *testing.T) {
	a := newTestApp(t)
	j := jobsCreateLater(t, a, "user01", "user02")
	moves := jobsMoves(t, a, j.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := jobsOpenEvents(t, a, a.admin(t), ctx, jobsEventsPath(j.ID, moves...))
	stream := jobsStream{bufio.NewScanner(resp.Body)}
	if ev := stream.next(t); ev.name != "snapshot" {
		t.Fatalf("first event = %q, want snapshot", ev.name)
	}
	if r, _ := a.post(t, a.admin(t), fmt.Sprintf("/jobs/%d/cancel", j.ID), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel = %d, want 303", r.StatusCode)
	}
	cancelled, jobState, counted := map[string]bool{}, "", 0
	for len(cancelled) < 2 || jobState != string(model.JobCancelled) || counted != 2 {
		b := stream.next(t).batch(t)
		for _, p := range b.Moves {
			if p.State == string(model.MoveCancelled) {
				cancelled[p.UID] = true
			}
		}
		if b.Job != nil {
			jobState = b.Job.State
		}
		if b.Totals != nil {
			counted = 0
			for _, c := range b.Totals.ByState {
				if c.State == string(model.MoveCancelled) {
					counted = c.Count
				}
			}
		}
	}
}
