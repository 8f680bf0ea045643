package handlers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
)

// fakeProber is a serversProber whose probes count themselves and wait for
// release, on a clock the test moves.
type fakeProber struct {
	*serversProber
	calls   atomic.Int64 // probes started
	rounds  atomic.Int64 // probes of servers[0]: one per round
	active  atomic.Int64 // probes running now
	maxBusy atomic.Int64 // most probes running at once
	release chan struct{}

	mu  sync.Mutex
	now time.Time
}

func newFakeProber() *fakeProber {
	f := &fakeProber{release: make(chan struct{}), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f.serversProber = &serversProber{ttl: serversProbeTTL, now: f.clock, probe: f.probe}
	return f
}

func (f *fakeProber) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeProber) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fakeProber) probe(ctx context.Context, s config.Server) reachResult {
	f.calls.Add(1)
	if s.Name == "a" {
		f.rounds.Add(1)
	}
	n := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxBusy.Load()
		if n <= m || f.maxBusy.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-f.release:
		return reachResult{reachable: true, reach: "reachable " + s.Name}
	case <-ctx.Done():
		return reachResult{reach: "probe context ended: " + ctx.Err().Error()}
	}
}

var probeServers = []config.Server{{Name: "a", Address: "127.0.0.1:1"}, {Name: "b", Address: "127.0.0.1:2"}}

// TestServersProbeOneRoundAtATime: viewers arriving while a round runs wait
// for it and share its results; only one round runs at a time.
func TestServersProbeOneRoundAtATime(t *testing.T) {
	f := newFakeProber()
	const viewers = 20
	var wg sync.WaitGroup
	results := make([]map[string]reachResult, viewers)
	for i := range viewers {
		wg.Go(func() {
			r, _, err := f.get(context.Background(), probeServers)
			if err != nil {
				t.Errorf("get() error = %v", err)
			}
			results[i] = r
		})
	}
	// Every viewer is either running the round or waiting for it.
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() < int64(len(probeServers)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the late viewers find the round running
	close(f.release)
	wg.Wait()
	if got := f.rounds.Load(); got != 1 {
		t.Errorf("%d concurrent viewers ran %d probe rounds, want 1", viewers, got)
	}
	if got := f.calls.Load(); got != int64(len(probeServers)) {
		t.Errorf("%d concurrent viewers made %d probes, want %d (one per server)", viewers, got, len(probeServers))
	}
	if got := f.maxBusy.Load(); got > int64(len(probeServers)) {
		t.Errorf("%d probes ran at once, want at most %d (one round)", got, len(probeServers))
	}
	for i, r := range results {
		if r[serversProbeKey(probeServers[1])].reach != "reachable b" {
			t.Errorf("viewer %d got %v, want the round's results", i, r)
		}
	}
}

// TestServersProbeCache: a round's results are reused for 30 s; the first
// view after that, or one showing a server the round did not probe, starts
// the next round.
func TestServersProbeCache(t *testing.T) {
	f := newFakeProber()
	close(f.release)
	ctx := context.Background()
	_, first, _ := f.get(ctx, probeServers)
	for range 10 {
		f.advance(2 * time.Second)
		if _, at, _ := f.get(ctx, probeServers); !at.Equal(first) {
			t.Errorf("get() at %v returned a round of %v, want the cached one of %v", f.clock(), at, first)
		}
	}
	f.advance(9 * time.Second) // 29 s
	f.get(ctx, probeServers)
	if got := f.rounds.Load(); got != 1 {
		t.Fatalf("%d rounds within 30 s, want 1", got)
	}
	f.advance(time.Second) // 30 s
	_, at, _ := f.get(ctx, probeServers)
	if got := f.rounds.Load(); got != 2 || !at.Equal(f.clock()) {
		t.Errorf("after 30 s: %d rounds, results of %v; want 2 and a fresh round at %v", got, at, f.clock())
	}
	more := append(probeServers[:2:2], config.Server{Name: "c", Address: "127.0.0.1:3"})
	r, _, _ := f.get(ctx, more)
	if got := f.rounds.Load(); got != 3 || r[serversProbeKey(more[2])].reach != "reachable c" {
		t.Errorf("with a new server: %d rounds, results %v; want 3 and c probed", got, r)
	}
}

// TestServersProbeViewerLeaves: a viewer who leaves while waiting gets its
// context's error; one who leaves while running the round does not cut
// the round short for the others.
func TestServersProbeViewerLeaves(t *testing.T) {
	f := newFakeProber()
	starter, leave := context.WithCancel(context.Background())
	done := make(chan map[string]reachResult)
	go func() {
		r, _, _ := f.get(starter, probeServers)
		done <- r
	}()
	for f.calls.Load() < int64(len(probeServers)) {
		time.Sleep(time.Millisecond)
	}
	waiter, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := f.get(waiter, probeServers); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get() of a viewer who leaves while waiting = %v, want its context's error", err)
	}
	leave()
	time.Sleep(20 * time.Millisecond)
	close(f.release)
	if r := <-done; r[serversProbeKey(probeServers[0])].reach != "reachable a" {
		t.Errorf("round of a viewer who left = %v, want it completed", r)
	}
	if r, _, _ := f.get(context.Background(), probeServers); r[serversProbeKey(probeServers[0])].reach != "reachable a" || f.rounds.Load() != 1 {
		t.Errorf("get() after the round = %v with %d rounds, want its cached results", r, f.rounds.Load())
	}
}
