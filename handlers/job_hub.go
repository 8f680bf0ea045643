package handlers

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// jobHubInterval is how often a job's live pages are told what changed:
// each stream sends at most one event per interval, however many updates
// the moves published meanwhile.
const jobHubInterval = time.Second

// A jobHub serves every open stream of one job: once per interval it reads
// the job and its totals from the store (one read per job, not per
// stream) and hands the result to each stream, which adds the rows it
// shows from the broker's memory (progress.Broker.Latest).
//
// The hub does not subscribe to the broker: a large job publishes
// thousands of updates a second, nearly all for rows nobody looks at, and a
// subscription starts with a snapshot loaded from every move of the job.
// Reading the latest state of the shown rows once per interval coalesces
// them and costs the broker one map look-up per row; Publish is untouched
// and never waits for a page.
type jobHub struct {
	id      int64
	streams map[*hubStream]struct{} // guarded by jobHubs.mu
	last    *jobTick                // the latest read; nil before the first; guarded by jobHubs.mu
	stop    context.CancelFunc
}

// jobTick is one read of a job, shared by its streams; it is not changed
// once handed out.
type jobTick struct {
	job    model.Job
	totals []byte // totalsJSON, encoded once for every stream
}

// hubStream receives a stream's ticks: a buffer of one where a newer tick
// replaces one not yet taken, so that a slow browser gets the latest state
// and never holds up the hub.
type hubStream struct{ ch chan *jobTick }

// jobHubs holds the hubs of the jobs that have open streams. The zero
// value is ready.
type jobHubs struct {
	mu   sync.Mutex
	hubs map[int64]*jobHub
}

// joinHub adds a stream to the job's hub, starting the hub if it is the
// first; leave removes it and stops the hub after its last stream.
func (s *Server) joinHub(jobID int64) (st *hubStream, leave func()) {
	hs := &s.hubs
	st = &hubStream{ch: make(chan *jobTick, 1)}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.hubs == nil {
		hs.hubs = map[int64]*jobHub{}
	}
	h := hs.hubs[jobID]
	if h == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h = &jobHub{id: jobID, streams: map[*hubStream]struct{}{}, stop: cancel}
		hs.hubs[jobID] = h
		go s.runHub(ctx, h)
	}
	h.streams[st] = struct{}{}
	if h.last != nil {
		st.offer(h.last)
	}
	return st, func() {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		delete(h.streams, st)
		if len(h.streams) == 0 && hs.hubs[jobID] == h {
			delete(hs.hubs, jobID)
			h.stop()
		}
	}
}

// offer hands t to the stream, replacing a tick it has not taken yet. Only
// the hub sends (under jobHubs.mu), so the second send cannot block.
func (st *hubStream) offer(t *jobTick) {
	select {
	case st.ch <- t:
		return
	default:
	}
	select {
	case <-st.ch:
	default:
	}
	st.ch <- t
}

// runHub reads the job at once and then every interval until its last
// stream leaves.
func (s *Server) runHub(ctx context.Context, h *jobHub) {
	tick := time.NewTicker(jobHubInterval)
	defer tick.Stop()
	for {
		if t, ok := s.readJobTick(ctx, h.id); ok {
			s.hubs.mu.Lock()
			h.last = t
			for st := range h.streams {
				st.offer(t)
			}
			s.hubs.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readJobTick is the hub's one read per interval: the job and its totals
// in one aggregate query. A failed read is logged and skipped; the streams
// keep what they showed.
func (s *Server) readJobTick(ctx context.Context, id int64) (*jobTick, bool) {
	job, err := s.DB.Job(ctx, id)
	if err == nil {
		var totals []byte
		if totals, err = s.jobTotalsJSON(ctx, id); err == nil {
			return &jobTick{job: job, totals: totals}, true
		}
	}
	if ctx.Err() == nil {
		s.logger().Warn("job events: read job", "job", id, "err", err)
	}
	return nil, false
}

// totalsJSON is the whole job's totals as live.js shows them.
type totalsJSON struct {
	Mailboxes  int              `json:"mailboxes"`
	ByState    []stateCountJSON `json:"by_state"`
	MsgsDone   int64            `json:"msgs_done"`
	MsgsTotal  int64            `json:"msgs_total"`
	BytesDone  int64            `json:"bytes_done"`
	BytesTotal int64            `json:"bytes_total"`
	Skipped    int              `json:"skipped"`
	Rate       float64          `json:"rate"`
	ETASeconds float64          `json:"eta_seconds"`
	Percent    string           `json:"percent"`
	BarMax     string           `json:"bar_max"`
	BarValue   string           `json:"bar_value"`
}

type stateCountJSON struct {
	State model.MoveState `json:"state"`
	Count int             `json:"count"`
}

func (s *Server) jobTotalsJSON(ctx context.Context, id int64) ([]byte, error) {
	t, err := s.DB.JobTotals(ctx, id)
	if err != nil {
		return nil, err
	}
	v := s.jobTotalsView(id, t)
	return json.Marshal(newTotalsJSON(v))
}

func newTotalsJSON(v web.JobTotals) totalsJSON {
	out := totalsJSON{Mailboxes: v.Mailboxes, ByState: []stateCountJSON{}, MsgsDone: v.MsgsDone, MsgsTotal: v.MsgsTotal,
		BytesDone: v.BytesDone, BytesTotal: v.BytesTotal, Skipped: v.Skipped, Rate: v.Rate,
		ETASeconds: v.ETA.Seconds(), Percent: v.Percent(), BarMax: v.BarMax(), BarValue: v.BarValue()}
	for _, c := range v.ByState {
		out.ByState = append(out.ByState, stateCountJSON{State: c.State, Count: c.Count})
	}
	return out
}
