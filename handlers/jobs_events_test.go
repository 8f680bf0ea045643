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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := jobsOpenEvents(t, a, a.helpdesk(t), ctx, fmt.Sprintf("/jobs/%d/events", j.ID))
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
	var snap []jobsProgress
	if err := json.Unmarshal([]byte(first.data), &snap); err != nil {
		t.Fatalf("snapshot %q: %v", first.data, err)
	}
	moves := jobsMoves(t, a, j.ID)
	if len(snap) != len(moves) {
		t.Fatalf("snapshot has %d moves, want %d", len(snap), len(moves))
	}
	states := map[int64]string{}
	var snapStates []string
	for i, p := range snap {
		snapStates = append(snapStates, p.State)
		if p.MoveID != moves[i].ID || p.UID != moves[i].UID || p.JobID != j.ID {
			t.Errorf("snapshot[%d] = move %d of %q in job %d, want move %d of %q in job %d", i, p.MoveID, p.UID, p.JobID, moves[i].ID, moves[i].UID, j.ID)
		}
		if p.State == string(model.MoveDone) {
			t.Errorf("snapshot[%d] is already done while its login hangs", i)
		}
		states[p.MoveID] = p.State
	}

	a.src.Faults().Unhang()
	released = true
	moveEvents, jobDone := 0, false
	allDone := func() bool {
		for _, st := range states {
			if st != string(model.MoveDone) {
				return false
			}
		}
		return true
	}
	for !allDone() || !jobDone {
		ev := stream.next(t)
		switch ev.name {
		case "move":
			var p jobsProgress
			if err := json.Unmarshal([]byte(ev.data), &p); err != nil {
				t.Fatalf("move event %q: %v", ev.data, err)
			}
			if _, ok := states[p.MoveID]; !ok {
				t.Fatalf("move event for move %d, not in the job", p.MoveID)
			}
			if p.State == string(model.MoveDone) && (p.MsgsDone != 10 || p.MsgsTotal != 10) {
				t.Errorf("done move %s has %d/%d messages, want 10/10", p.UID, p.MsgsDone, p.MsgsTotal)
			}
			states[p.MoveID] = p.State
			moveEvents++
		case "job":
			var js struct{ State string }
			if err := json.Unmarshal([]byte(ev.data), &js); err != nil {
				t.Fatalf("job event %q: %v", ev.data, err)
			}
			jobDone = js.State == string(model.JobDone)
		default:
			t.Fatalf("unexpected event %q", ev.name)
		}
	}
	t.Logf("snapshot states %v, then %d move events", snapStates, moveEvents)
	if moveEvents < len(uids) {
		t.Errorf("saw %d move events, want at least one per mailbox", moveEvents)
	}

	t.Run("reconnect gets a fresh snapshot", func(t *testing.T) {
		resp := jobsOpenEvents(t, a, a.admin(t), ctx, fmt.Sprintf("/jobs/%d/events", j.ID))
		ev := jobsStream{bufio.NewScanner(resp.Body)}.next(t)
		var snap []jobsProgress
		if err := json.Unmarshal([]byte(ev.data), &snap); ev.name != "snapshot" || err != nil {
			t.Fatalf("first event %q (%v), want a snapshot", ev.name, err)
		}
		for _, p := range snap {
			if p.State != string(model.MoveDone) {
				t.Errorf("snapshot after the job: %s is %s, want done", p.UID, p.State)
			}
		}
	})
}

func TestJobEventsRefusals(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		c      *http.Client
		path   string
		status int
	}{
		{"unknown job", a.admin(t), "/jobs/42/events", http.StatusNotFound},
		{"bad id", a.admin(t), "/jobs/x/events", http.StatusBadRequest},
		{"anonymous", a.client(t, "", ""), "/jobs/1/events", http.StatusUnauthorized},
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resp := jobsOpenEvents(t, a, a.admin(t), ctx, fmt.Sprintf("/jobs/%d/events", j.ID))
	stream := jobsStream{bufio.NewScanner(resp.Body)}
	if ev := stream.next(t); ev.name != "snapshot" {
		t.Fatalf("first event = %q, want snapshot", ev.name)
	}
	if r, _ := a.post(t, a.admin(t), fmt.Sprintf("/jobs/%d/cancel", j.ID), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel = %d, want 303", r.StatusCode)
	}
	cancelled, jobState := map[string]bool{}, ""
	for len(cancelled) < 2 || jobState != string(model.JobCancelled) {
		ev := stream.next(t)
		switch ev.name {
		case "move":
			var p jobsProgress
			if err := json.Unmarshal([]byte(ev.data), &p); err != nil {
				t.Fatal(err)
			}
			if p.State == string(model.MoveCancelled) {
				cancelled[p.UID] = true
			}
		case "job":
			var js struct{ State string }
			if err := json.Unmarshal([]byte(ev.data), &js); err != nil {
				t.Fatal(err)
			}
			jobState = js.State
		}
	}
}
