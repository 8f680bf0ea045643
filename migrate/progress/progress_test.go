package progress_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
)

// memStore is a stand-in for the database: load returns the stored moves
// of a job, or every unfinished move for job 0, like db.Moves and
// db.UnfinishedMoves.
func memStore(moves ...model.Move) func(context.Context, int64) ([]model.Move, error) {
	return func(ctx context.Context, jobID int64) ([]model.Move, error) {
		var out []model.Move
		for _, m := range moves {
			if (jobID == 0 && m.Unfinished()) || m.JobID == jobID {
				out = append(out, m)
			}
		}
		return out, nil
	}
}

// fakeClock is a settable clock for rate tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(d)
}

func subscribe(t *testing.T, b *progress.Broker, jobID int64, buffer int) ([]progress.Move, <-chan progress.Move) {
	t.Helper()
	snap, ch, cancel, err := b.Subscribe(context.Background(), jobID, buffer)
	if err != nil {
		t.Fatalf("Subscribe(%d) = %v, want nil", jobID, err)
	}
	t.Cleanup(cancel)
	return snap, ch
}

// drain returns what is buffered in ch without waiting.
func drain(ch <-chan progress.Move) []progress.Move {
	out, _ := buffered(ch)
	return out
}

// buffered returns what is buffered in ch without waiting, and whether
// ch was closed.
func buffered(ch <-chan progress.Move) ([]progress.Move, bool) {
	var out []progress.Move
	for {
		select {
		case p, ok := <-ch:
			if !ok {
				return out, true
			}
			out = append(out, p)
		default:
			return out, false
		}
	}
}

// keysOf summarises progress as "move:state:bytes" for comparisons.
func keysOf(ps []progress.Move) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d:%s:%d", p.MoveID, p.State, p.BytesDone))
	}
	return out
}

func TestBrokerSnapshot(t *testing.T) {
	b := progress.NewBroker(memStore(
		model.Move{ID: 3, JobID: 1, UID: "carol", State: model.MoveQueued},
		model.Move{ID: 1, JobID: 1, UID: "alice", State: model.MoveQueued},
		model.Move{ID: 7, JobID: 2, UID: "gus", State: model.MoveRunning, BytesDone: 70},
		model.Move{ID: 8, JobID: 2, UID: "hal", State: model.MoveDone, BytesDone: 80},
	), nil)
	b.Publish(model.Move{ID: 3, JobID: 1, UID: "carol", State: model.MoveRunning, BytesDone: 10})
	b.Publish(model.Move{ID: 3, JobID: 1, UID: "carol", State: model.MoveRunning, BytesDone: 30})
	b.Publish(model.Move{ID: 2, JobID: 1, UID: "bob", State: model.MoveDone, BytesDone: 20})
	b.Publish(model.Move{ID: 5, JobID: 3, UID: "eve", State: model.MoveDone, BytesDone: 50})

	tests := []struct {
		name  string
		jobID int64
		want  []string
	}{
		{"job 1 merges loaded and published", 1, []string{"1:queued:0", "2:done:20", "3:running:30"}},
		{"job 2 only stored", 2, []string{"7:running:70", "8:done:80"}},
		{"every job: published plus unfinished stored", 0,
			[]string{"1:queued:0", "2:done:20", "3:running:30", "5:done:50", "7:running:70"}},
		{"unknown job", 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, _ := subscribe(t, b, tt.jobID, 1)
			if got := keysOf(snap); !slices.Equal(got, tt.want) {
				t.Errorf("Subscribe(%d) snapshot = %v, want %v", tt.jobID, got, tt.want)
			}
		})
	}
}

func TestBrokerSnapshotThenUpdates(t *testing.T) {
	b := progress.NewBroker(nil, nil)
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 1})
	snap, ch := subscribe(t, b, 1, 10)
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 2})

	if got, want := keysOf(snap), []string{"1:running:1"}; !slices.Equal(got, want) {
		t.Errorf("Subscribe() snapshot = %v, want %v", got, want)
	}
	// The state in the snapshot is not repeated on the channel.
	if got, want := keysOf(drain(ch)), []string{"1:running:2"}; !slices.Equal(got, want) {
		t.Errorf("Subscribe() updates = %v, want %v", got, want)
	}
}

func TestBrokerRouting(t *testing.T) {
	b := progress.NewBroker(nil, nil)
	_, job1 := subscribe(t, b, 1, 100)
	_, job2 := subscribe(t, b, 2, 100)
	_, all := subscribe(t, b, 0, 100)
	publish := []model.Move{
		{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 1},
		{ID: 3, JobID: 2, State: model.MoveRunning, BytesDone: 1},
		{ID: 2, JobID: 1, State: model.MoveRunning, BytesDone: 1},
		{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 2},
		{ID: 3, JobID: 2, State: model.MoveRunning, BytesDone: 2},
		{ID: 1, JobID: 1, State: model.MoveDone, BytesDone: 3},
	}
	for _, m := range publish {
		b.Publish(m)
	}
	tests := []struct {
		name string
		ch   <-chan progress.Move
		want []string
	}{
		{"job 1", job1, []string{"1:running:1", "2:running:1", "1:running:2", "1:done:3"}},
		{"job 2", job2, []string{"3:running:1", "3:running:2"}},
		{"every job", all, []string{"1:running:1", "3:running:1", "2:running:1", "1:running:2", "3:running:2", "1:done:3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keysOf(drain(tt.ch)); !slices.Equal(got, tt.want) {
				t.Errorf("updates = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBrokerDropsStalledSubscriber(t *testing.T) {
	const n = 10000
	b := progress.NewBroker(nil, nil)
	_, stalled, cancelStalled, err := b.Subscribe(context.Background(), 1, 2)
	if err != nil {
		t.Fatalf("Subscribe() = %v, want nil", err)
	}
	_, reader := subscribe(t, b, 0, n)

	// Everything runs on this goroutine: had Publish blocked on the stalled
	// subscriber, this loop would never finish.
	for i := range n {
		b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: int64(i + 1)})
	}

	got := drain(reader)
	if len(got) != n {
		t.Fatalf("reading subscriber got %d updates, want %d", len(got), n)
	}
	for i, p := range got {
		if p.BytesDone != int64(i+1) {
			t.Fatalf("update %d: BytesDone = %d, want %d", i, p.BytesDone, i+1)
		}
	}
	// The stalled one keeps what fitted in its buffer, then sees the close.
	for i := range 2 {
		if p, ok := <-stalled; !ok || p.BytesDone != int64(i+1) {
			t.Errorf("stalled receive %d = %v, %v, want BytesDone %d, true", i, p.BytesDone, ok, i+1)
		}
	}
	if _, ok := <-stalled; ok {
		t.Errorf("stalled channel open after %d publishes, want closed", n)
	}
	if got := b.Dropped(); got != 1 {
		t.Errorf("Dropped() = %d, want 1", got)
	}
	cancelStalled() // after the drop: must not close again
	cancelStalled()
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveDone, BytesDone: n})
	if got := b.Dropped(); got != 1 {
		t.Errorf("Dropped() after a further publish = %d, want 1", got)
	}
}

func TestBrokerCancel(t *testing.T) {
	b := progress.NewBroker(nil, nil)
	_, ch, cancel, err := b.Subscribe(context.Background(), 0, 1)
	if err != nil {
		t.Fatalf("Subscribe() = %v, want nil", err)
	}
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Errorf("receive after cancel: ok = true, want a closed channel")
	}
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning})
	if got := b.Dropped(); got != 0 {
		t.Errorf("Dropped() = %d, want 0: a cancelled subscriber is not a slow one", got)
	}
}

func TestBrokerSubscribeErrors(t *testing.T) {
	errStore := errors.New("database is locked")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		load func(context.Context, int64) ([]model.Move, error)
		want error
	}{
		{"cancelled context", cancelled, memStore(), context.Canceled},
		{"cancelled context without load", cancelled, nil, context.Canceled},
		{"load fails", context.Background(),
			func(context.Context, int64) ([]model.Move, error) { return nil, errStore }, errStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := progress.NewBroker(tt.load, nil)
			snap, ch, cancel, err := b.Subscribe(tt.ctx, 1, 1)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Subscribe() = %v, want %v", err, tt.want)
			}
			if snap != nil || ch != nil || cancel != nil {
				t.Errorf("Subscribe() = %v, %v, %v, want nils with the error", snap, ch, cancel != nil)
			}
		})
	}
}

func TestBrokerRate(t *testing.T) {
	type pub struct {
		at          time.Duration
		state       model.MoveState
		done, total int64
	}
	run := func(at time.Duration, done, total int64) pub { return pub{at, model.MoveRunning, done, total} }
	const mb = 1_000_000
	tests := []struct {
		name    string
		pubs    []pub
		minRate float64 // want minRate <= Rate <= maxRate
		maxRate float64
	}{
		{"first sample is unknown", []pub{run(0, 0, 3*mb)}, 0, 0},
		{"1 MB over 2 s", []pub{run(0, 0, 3*mb), run(2*time.Second, mb, 3*mb)}, 500_000, 500_000},
		{"nothing left", []pub{run(0, 0, mb), run(2*time.Second, mb, mb)}, 500_000, 500_000},
		{"speeding up moves toward the new pace",
			[]pub{run(0, 0, 9*mb), run(2*time.Second, mb, 9*mb), run(4*time.Second, 3*mb, 9*mb)},
			500_001, 999_999},
		{"a stall decays the rate",
			[]pub{run(0, 0, 9*mb), run(2*time.Second, mb, 9*mb), run(12*time.Second, mb, 9*mb)},
			1, 499_999},
		{"publishes at one instant accumulate",
			[]pub{run(0, 0, 3*mb), run(0, mb/2, 3*mb), run(2*time.Second, mb, 3*mb)}, 500_000, 500_000},
		{"restart resets",
			[]pub{run(0, 0, 3*mb), run(2*time.Second, mb, 3*mb), run(3*time.Second, 10, 3*mb)}, 0, 0},
		{"measures again after a restart",
			[]pub{run(0, 0, 3*mb), run(2*time.Second, mb, 3*mb), run(3*time.Second, 0, 3*mb),
				run(5*time.Second, 2*mb, 3*mb)}, mb, mb},
		{"finished",
			[]pub{run(0, 0, 3*mb), run(2*time.Second, mb, 3*mb), {3 * time.Second, model.MoveDone, 3 * mb, 3 * mb}}, 0, 0},
		{"queued again restarts the measurement",
			[]pub{run(0, 0, 3*mb), run(2*time.Second, mb, 3*mb), {3 * time.Second, model.MoveQueued, mb, 3 * mb},
				run(9*time.Second, 2*mb, 3*mb)}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{}
			b := progress.NewBroker(nil, clock.now)
			_, ch := subscribe(t, b, 1, len(tt.pubs))
			for _, p := range tt.pubs {
				clock.set(p.at)
				b.Publish(model.Move{ID: 1, JobID: 1, State: p.state, BytesDone: p.done, BytesTotal: p.total})
			}
			got := drain(ch)
			if len(got) != len(tt.pubs) {
				t.Fatalf("got %d updates, want %d", len(got), len(tt.pubs))
			}
			last, lastPub := got[len(got)-1], tt.pubs[len(tt.pubs)-1]
			if last.Rate < tt.minRate || last.Rate > tt.maxRate {
				t.Errorf("Publish() Rate = %v, want %v..%v", last.Rate, tt.minRate, tt.maxRate)
			}
			var wantETA time.Duration
			if left := lastPub.total - lastPub.done; last.Rate > 0 && left > 0 && lastPub.state == model.MoveRunning {
				wantETA = time.Duration(float64(left) / last.Rate * float64(time.Second))
			}
			if d := last.ETA - wantETA; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Publish() ETA = %v, want %v", last.ETA, wantETA)
			}
			if want := clock.now(); !last.At.Equal(want) {
				t.Errorf("Publish() At = %v, want %v", last.At, want)
			}
			// A late subscriber sees the same figures.
			snap, _ := subscribe(t, b, 1, 1)
			if len(snap) != 1 || snap[0] != last {
				t.Errorf("Subscribe() snapshot = %+v, want [%+v]", snap, last)
			}
		})
	}
}

func TestBrokerRateExample(t *testing.T) {
	clock := &fakeClock{}
	b := progress.NewBroker(nil, clock.now)
	_, ch := subscribe(t, b, 0, 2)
	clock.set(0)
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesTotal: 3_000_000})
	clock.set(2 * time.Second)
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 1_000_000, BytesTotal: 3_000_000})
	got := drain(ch)
	if len(got) != 2 {
		t.Fatalf("got %d updates, want 2", len(got))
	}
	if p := got[1]; math.Abs(p.Rate-500_000) > 1e-6 || p.ETA != 4*time.Second {
		t.Errorf("Publish() Rate, ETA = %v, %v, want 500000, 4s", p.Rate, p.ETA)
	}
}

// TestBrokerConcurrent publishes and subscribes from 50 goroutines and
// checks what every subscriber saw: only its job, and per move strictly
// increasing progress across snapshot and updates (nothing repeated, nothing
// out of order). Subscribers that were dropped must add up to Dropped().
func TestBrokerConcurrent(t *testing.T) {
	const (
		publishers  = 25
		subscribers = 25
		steps       = 200
	)
	jobOf := func(move int64) int64 { return move%3 + 1 }
	b := progress.NewBroker(memStore(), nil)
	var pubs, subs sync.WaitGroup
	var mu sync.Mutex
	sawDrop := 0
	pubsDone := make(chan struct{})
	for i := range publishers {
		move := int64(i + 1)
		pubs.Go(func() {
			for s := 1; s <= steps; s++ {
				state := model.MoveRunning
				if s == steps {
					state = model.MoveDone
				}
				b.Publish(model.Move{ID: move, JobID: jobOf(move), State: state, BytesDone: int64(s), BytesTotal: steps})
			}
		})
	}
	for i := range subscribers {
		jobID := int64(i % 4) // 0 is every job
		buffer := publishers * steps
		if i%2 == 1 {
			buffer = 1 // likely to fall behind and be dropped
		}
		subs.Go(func() {
			snap, ch, cancel, err := b.Subscribe(context.Background(), jobID, buffer)
			if err != nil {
				t.Errorf("Subscribe(%d) = %v, want nil", jobID, err)
				return
			}
			defer cancel()
			want := 0 // moves of this subscription
			for m := int64(1); m <= publishers; m++ {
				if jobID == 0 || jobOf(m) == jobID {
					want++
				}
			}
			last := map[int64]int64{}
			finished := 0
			see := func(p progress.Move) {
				if jobID != 0 && p.JobID != jobID {
					t.Errorf("subscriber of job %d got move %d of job %d", jobID, p.MoveID, p.JobID)
				}
				if p.BytesDone <= last[p.MoveID] {
					t.Errorf("subscriber of job %d: move %d went from %d to %d", jobID, p.MoveID, last[p.MoveID], p.BytesDone)
				}
				last[p.MoveID] = p.BytesDone
				if p.BytesDone == steps {
					finished++
				}
			}
			for _, p := range snap {
				see(p)
			}
			dropped := func() {
				mu.Lock()
				defer mu.Unlock()
				sawDrop++
			}
			for finished < want {
				select {
				case p, ok := <-ch:
					if !ok {
						dropped()
						return
					}
					see(p)
				case <-pubsDone:
					// Every update is buffered by now, so a missed one
					// shows as an error rather than a hang.
					rest, closed := buffered(ch)
					for _, p := range rest {
						see(p)
					}
					if closed {
						dropped()
					} else if finished < want {
						t.Errorf("subscriber of job %d saw %d of %d moves finish, want all", jobID, finished, want)
					}
					return
				}
			}
		})
	}
	pubs.Wait()
	close(pubsDone)
	subs.Wait()
	t.Logf("%d of %d subscribers dropped", sawDrop, subscribers)

	snap, _ := subscribe(t, b, 0, 1)
	if len(snap) != publishers {
		t.Fatalf("Subscribe(0) snapshot has %d moves, want %d", len(snap), publishers)
	}
	for i, p := range snap {
		if p.MoveID != int64(i+1) || p.State != model.MoveDone || p.BytesDone != steps {
			t.Errorf("Subscribe(0) snapshot[%d] = move %d %s %d, want move %d done %d", i, p.MoveID, p.State, p.BytesDone, i+1, steps)
		}
	}
	if got := b.Dropped(); got != sawDrop {
		t.Errorf("Dropped() = %d, want %d (subscribers that saw their channel closed)", got, sawDrop)
	}
}

func TestBrokerLatestAndRunning(t *testing.T) {
	b := progress.NewBroker(memStore(model.Move{ID: 9, JobID: 1, State: model.MoveQueued}), nil)
	b.Publish(model.Move{ID: 1, JobID: 1, State: model.MoveRunning, BytesDone: 1})
	b.Publish(model.Move{ID: 2, JobID: 1, State: model.MoveRunning, BytesDone: 2})
	b.Publish(model.Move{ID: 3, JobID: 2, State: model.MoveRunning, BytesDone: 3})
	b.Publish(model.Move{ID: 2, JobID: 1, State: model.MoveDone, BytesDone: 4})

	latest := b.Latest([]int64{2, 3, 9, 42})
	if len(latest) != 2 || latest[2].State != model.MoveDone || latest[3].BytesDone != 3 {
		t.Errorf("Latest(2, 3, 9, 42) = %v, want the published states of 2 and 3 only", latest)
	}
	if got, want := keysOf(b.Running(1)), []string{"1:running:1"}; !slices.Equal(got, want) {
		t.Errorf("Running(1) = %v, want %v (move 2 finished)", got, want)
	}
	if got, want := keysOf(b.Running(2)), []string{"3:running:3"}; !slices.Equal(got, want) {
		t.Errorf("Running(2) = %v, want %v", got, want)
	}
	b.Publish(model.Move{ID: 3, JobID: 2, State: model.MoveFailed, BytesDone: 3})
	if got := b.Running(2); len(got) != 0 {
		t.Errorf("Running(2) after its move failed = %v, want none", keysOf(got))
	}
}
