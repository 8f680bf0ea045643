package progress

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// The broker fans committed move states out to in-process subscribers (the
// SSE endpoint, the CLI printer). It holds state, not a log: only the latest
// state per move is kept, so a late subscriber gets a snapshot and then
// live updates, and memory stays bounded by the number of moves.
//
// A move must never wait for a browser, so Publish never blocks: a subscriber
// whose buffer is full is closed and forgotten, and is expected to subscribe
// again (an SSE client reconnects and gets a fresh snapshot).

// rateWindow is the time constant of the rate's exponential moving
// average: a sample's weight halves in about 0.7 of it. Long enough to smooth
// the bursts of chunked APPENDs, short enough to follow a change of pace.
const rateWindow = 10 * time.Second

// Move is one move's state as subscribers see it.
type Move struct {
	MoveID, JobID                              int64
	UID, Folder                                string
	State                                      model.MoveState
	Phase                                      model.Phase
	MsgsDone, MsgsTotal, BytesDone, BytesTotal int64
	Skipped                                    int
	Error                                      string
	// Rate is bytes per second, smoothed over recent publishes; 0 when
	// unknown or the move is not running.
	Rate float64
	// ETA is the remaining bytes divided by Rate; 0 when unknown or finished.
	ETA time.Duration
	// At is when the state was published; zero for a state read from the
	// store that the broker has not seen published.
	At time.Time
}

// Broker fans out move progress to subscribers. It is safe for concurrent
// use; the zero value is not usable, use NewBroker.
type Broker struct {
	load func(ctx context.Context, jobID int64) ([]model.Move, error)
	now  func() time.Time

	// mu guards everything below. Sends happen under it, which is what makes
	// a snapshot and its subscription atomic; they never block (select with
	// default), so holding it is short.
	mu      sync.Mutex
	moves   map[int64]*moveEntry
	running map[int64]map[int64]*moveEntry // by job, then move: last published as running
	subs    map[*subscriber]struct{}
	dropped int
}

// moveEntry is the latest published state of one move plus the sample the
// next rate measurement starts from.
type moveEntry struct {
	p         Move
	baseBytes int64
	baseAt    time.Time
	running   bool // base is a sample of a running move
}

type subscriber struct {
	jobID  int64 // 0: every job
	ch     chan Move
	closed bool
}

// NewBroker makes a broker. load returns the stored moves of a job (jobID >
// 0) or of every unfinished job (jobID == 0); it builds snapshots for moves
// the broker has not seen published, e.g. after a restart. load may be nil
// (only published moves are known). now may be nil (time.Now).
func NewBroker(load func(ctx context.Context, jobID int64) ([]model.Move, error), now func() time.Time) *Broker {
	if now == nil {
		now = time.Now
	}
	return &Broker{load: load, now: now, moves: map[int64]*moveEntry{},
		running: map[int64]map[int64]*moveEntry{}, subs: map[*subscriber]struct{}{}}
}

// Publish records m's state, computing Rate and ETA from this move's earlier
// publishes, and sends it to the subscribers of its job and of all jobs. It
// never blocks: a subscriber whose buffer is full is dropped (its channel is
// closed), so a slow browser cannot slow a move.
func (b *Broker) Publish(m model.Move) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bm := b.moves[m.ID]
	if bm == nil {
		bm = &moveEntry{}
		b.moves[m.ID] = bm
	}
	p := fromModel(m)
	p.At = b.now()
	bm.update(&p)
	bm.p = p
	b.indexRunningLocked(bm)
	for s := range b.subs {
		if s.jobID != 0 && s.jobID != p.JobID {
			continue
		}
		select {
		case s.ch <- p:
		default:
			b.removeLocked(s)
			b.dropped++
		}
	}
}

// indexRunningLocked keeps b.running in step with bm's latest state.
func (b *Broker) indexRunningLocked(bm *moveEntry) {
	job := b.running[bm.p.JobID]
	if bm.p.State == model.MoveRunning {
		if job == nil {
			job = map[int64]*moveEntry{}
			b.running[bm.p.JobID] = job
		}
		job[bm.p.MoveID] = bm
		return
	}
	if job != nil {
		delete(job, bm.p.MoveID)
		if len(job) == 0 {
			delete(b.running, bm.p.JobID)
		}
	}
}

// Latest returns the last published state of each of the given moves that
// the broker has seen published (a move it knows only from the store is
// absent). It reads memory only: the job page and its live streams ask for
// the rows they show, at most once a second, instead of subscribing to
// every update of a large job.
func (b *Broker) Latest(moveIDs []int64) map[int64]Move {
	out := make(map[int64]Move, len(moveIDs))
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range moveIDs {
		if bm := b.moves[id]; bm != nil {
			out[id] = bm.p
		}
	}
	return out
}

// Running returns the last published state of every move of the job whose
// last publish said running, ordered by MoveID. The runner's caps bound
// their number, so this is a short list even for a job of many thousand
// moves.
func (b *Broker) Running(jobID int64) []Move {
	b.mu.Lock()
	out := make([]Move, 0, len(b.running[jobID]))
	for _, bm := range b.running[jobID] {
		out = append(out, bm.p)
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y Move) int { return cmp.Compare(x.MoveID, y.MoveID) })
	return out
}

// update sets p's Rate and ETA from the previous sample and makes p the
// next sample.
func (bm *moveEntry) update(p *Move) {
	if p.State != model.MoveRunning {
		bm.running = false
		return
	}
	if !bm.running || p.BytesDone < bm.p.BytesDone {
		// First sample of this run, or the move restarted: nothing to
		// measure against yet.
		bm.running, bm.baseBytes, bm.baseAt = true, p.BytesDone, p.At
		return
	}
	rate := bm.p.Rate
	if dt := p.At.Sub(bm.baseAt).Seconds(); dt > 0 {
		inst := float64(p.BytesDone-bm.baseBytes) / dt
		if rate == 0 {
			rate = inst
		} else {
			// Weight by elapsed time, so frequent small publishes do not
			// drown out the history.
			alpha := 1 - math.Exp(-dt/rateWindow.Seconds())
			rate += alpha * (inst - rate)
		}
		bm.baseBytes, bm.baseAt = p.BytesDone, p.At
	}
	// With no time elapsed (a coarse clock), the bytes accumulate against
	// the old base until it moves.
	p.Rate = rate
	if left := p.BytesTotal - p.BytesDone; rate > 0 && left > 0 {
		p.ETA = durationOf(float64(left) / rate)
	}
}

// seconds converts seconds to a Duration, saturating rather than
// overflowing for an absurdly slow rate.
func durationOf(seconds float64) time.Duration {
	if seconds >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(seconds * float64(time.Second))
}

// Subscribe returns the current state of every move of the job (jobID 0:
// every move the broker knows plus load(ctx, 0)), ordered by MoveID, and a
// channel of later updates with the given buffer (at least 1). The snapshot
// and the subscription are taken atomically: no later update is missed and
// none already in the snapshot is repeated. ctx bounds only the load.
//
// cancel unsubscribes and closes the channel; it may be called more than
// once, also after the broker dropped the subscriber for being slow. A
// closed channel the caller did not cancel means it was dropped.
func (b *Broker) Subscribe(ctx context.Context, jobID int64, buffer int) (snapshot []Move, updates <-chan Move, cancel func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("subscribe to job %d: %w", jobID, err)
	}
	// Loading outside the lock keeps a slow query from stalling Publish. A
	// move published meanwhile is in b.moves and overrides the loaded state;
	// one committed but not yet published arrives as an update.
	var stored []model.Move
	if b.load != nil {
		if stored, err = b.load(ctx, jobID); err != nil {
			return nil, nil, nil, fmt.Errorf("subscribe to job %d: load moves: %w", jobID, err)
		}
	}
	s := &subscriber{jobID: jobID, ch: make(chan Move, max(buffer, 1))}

	b.mu.Lock()
	defer b.mu.Unlock()
	seen := make(map[int64]bool, len(stored))
	for _, bm := range b.moves {
		if jobID == 0 || bm.p.JobID == jobID {
			snapshot = append(snapshot, bm.p)
			seen[bm.p.MoveID] = true
		}
	}
	for _, m := range stored {
		if !seen[m.ID] && (jobID == 0 || m.JobID == jobID) {
			snapshot = append(snapshot, fromModel(m))
			seen[m.ID] = true
		}
	}
	slices.SortFunc(snapshot, func(x, y Move) int { return cmp.Compare(x.MoveID, y.MoveID) })
	b.subs[s] = struct{}{}
	cancel = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.removeLocked(s)
	}
	return snapshot, s.ch, cancel, nil
}

// removeLocked closes and forgets s once; b.mu must be held.
func (b *Broker) removeLocked(s *subscriber) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.ch)
	delete(b.subs, s)
}

// Dropped counts subscribers dropped for being slow.
func (b *Broker) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// fromModel is m's state without rate, ETA or publish time.
func fromModel(m model.Move) Move {
	return Move{
		MoveID: m.ID, JobID: m.JobID,
		UID: m.UID, State: m.State, Phase: m.Phase, Folder: m.CurrentFolder,
		MsgsDone: m.MsgsDone, MsgsTotal: m.MsgsTotal, BytesDone: m.BytesDone, BytesTotal: m.BytesTotal,
		Skipped: m.Skipped, Error: m.Error,
	}
}
