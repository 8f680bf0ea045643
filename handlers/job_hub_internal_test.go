package handlers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// Every stream of a job shares its hub's one read per interval; the hub
// stops with its last stream.
func TestJobHubShared(t *testing.T) {
	store := testenv.OpenDB(t, filepath.Join(t.TempDir(), "mw.db"))
	j, err := store.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon,
		Parallel: 1, StartAt: time.Now().Add(time.Hour)}, []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{DB: store, Broker: progress.NewBroker(nil, nil)}
	first, leave1 := s.joinHub(j.ID)
	second, leave2 := s.joinHub(j.ID)
	recv := func(st *hubStream) *jobTick {
		t.Helper()
		select {
		case tk := <-st.ch:
			return tk
		case <-time.After(30 * time.Second):
			t.Fatal("no tick within 30 s")
			return nil
		}
	}
	a, b := recv(first), recv(second)
	if a != b {
		t.Errorf("the streams of one job got different reads (%p, %p), want the hub's one read shared", a, b)
	}
	if a.job.ID != j.ID || len(a.totals) == 0 {
		t.Errorf("tick = job %d, totals %q; want job %d and its totals", a.job.ID, a.totals, j.ID)
	}
	s.hubs.mu.Lock()
	hubs := len(s.hubs.hubs)
	s.hubs.mu.Unlock()
	if hubs != 1 {
		t.Errorf("%d hubs for two streams of one job, want 1", hubs)
	}
	leave1()
	leave2()
	s.hubs.mu.Lock()
	hubs = len(s.hubs.hubs)
	s.hubs.mu.Unlock()
	if hubs != 0 {
		t.Errorf("%d hubs after the last stream left, want 0", hubs)
	}
}

// A stream that does not take its ticks holds only the newest one.
func TestHubStreamOfferKeepsLatest(t *testing.T) {
	st := &hubStream{ch: make(chan *jobTick, 1)}
	older, newer := &jobTick{}, &jobTick{}
	st.offer(older)
	st.offer(newer)
	if got := <-st.ch; got != newer {
		t.Errorf("offer twice then take = the older tick, want the newer")
	}
}
