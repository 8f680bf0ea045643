package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/web"
)

// jobEventsHeartbeat keeps proxies from closing an idle stream and lets the
// server notice a vanished browser.
const jobEventsHeartbeat = 15 * time.Second

// jobEventsJobPoll is how often the job's own state is re-read.
const jobEventsJobPoll = time.Second

// jobEventsWriteTimeout bounds each write of a stream: the server's write
// timeout, meant for pages, is lifted for streams, and a browser that stops
// reading is cut off after this long instead of holding the connection.
const jobEventsWriteTimeout = 30 * time.Second

// maxStreamsPerUser bounds the live streams one signed-in person holds
// open (tabs, reconnects); each costs a connection and a subscription.
const maxStreamsPerUser = 8

// jobEventsBuffer is how many updates may wait for a slow browser before
// the broker drops it (it reconnects and gets a fresh snapshot).
const jobEventsBuffer = 256

// progressJSON is one move's state as live.js reads it.
type progressJSON struct {
	MoveID     int64           `json:"move_id"`
	JobID      int64           `json:"job_id"`
	UID        string          `json:"uid"`
	State      model.MoveState `json:"state"`
	Phase      model.Phase     `json:"phase"`
	Folder     string          `json:"folder"`
	MsgsDone   int64           `json:"msgs_done"`
	MsgsTotal  int64           `json:"msgs_total"`
	BytesDone  int64           `json:"bytes_done"`
	BytesTotal int64           `json:"bytes_total"`
	Skipped    int             `json:"skipped"`
	Error      string          `json:"error"`
	Rate       float64         `json:"rate"`
	ETASeconds float64         `json:"eta_seconds"`
}

func toProgressJSON(p progress.Move) progressJSON {
	return progressJSON{MoveID: p.MoveID, JobID: p.JobID, UID: p.UID, State: p.State, Phase: p.Phase,
		Folder: p.Folder, MsgsDone: p.MsgsDone, MsgsTotal: p.MsgsTotal, BytesDone: p.BytesDone,
		BytesTotal: p.BytesTotal, Skipped: p.Skipped, Error: p.Error, Rate: p.Rate,
		ETASeconds: p.ETA.Seconds()}
}

// jobEvents streams a job's move progress as server-sent events: a
// "snapshot" of every move first, then a "move" per update and a "job"
// when the job's state changes. Every connection starts with a fresh
// snapshot, so a reconnecting browser misses nothing.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	id, job, ok := s.eventsJob(w, r)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok || s.Broker == nil {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	release, ok := s.openStream(r)
	if !ok {
		w.Header().Set("Retry-After", "30")
		http.Error(w, fmt.Sprintf("Too many live pages are open for your account (at most %d); close some tabs.", maxStreamsPerUser),
			http.StatusTooManyRequests)
		return
	}
	defer release()
	snapshot, updates, cancel, err := s.Broker.Subscribe(r.Context(), id, jobEventsBuffer)
	if err != nil {
		s.logger().Error("job events: subscribe", "job", id, "err", err)
		http.Error(w, "the server could not load the job", http.StatusInternalServerError)
		return
	}
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// From here on only events are written; errors end the stream.

	rc := http.NewResponseController(w)
	st := &jobStream{s: s, w: deadlineWriter{w: w, rc: rc}, ctx: r.Context(), id: id, jobState: job.State}
	if st.sendSnapshot(snapshot, job) != nil {
		return
	}
	flusher.Flush()
	st.relay(flusher, updates)
}

// eventsJob loads the job named in the path, answering the request with
// the error when there is none; ok is false then.
func (s *Server) eventsJob(w http.ResponseWriter, r *http.Request) (id int64, job model.Job, ok bool) {
	id, err := pathID(r, "job")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return 0, model.Job{}, false
	}
	job, err = s.DB.Job(r.Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		http.Error(w, "no such job", http.StatusNotFound)
		return 0, model.Job{}, false
	}
	if err != nil {
		s.logger().Error("job events: load job", "job", id, "err", err)
		http.Error(w, "the server could not load the job", http.StatusInternalServerError)
		return 0, model.Job{}, false
	}
	return id, job, true
}

// jobStream is one open event stream. It is used by the handler's
// goroutine only; it remembers what the browser was last told (the job's
// state and each move's) so that a "job" event is sent only on a change.
type jobStream struct {
	s        *Server
	w        io.Writer
	ctx      context.Context // the request's: done when the browser goes away
	id       int64
	jobState model.JobState
	states   map[int64]model.MoveState // by move ID
}

// sendSnapshot writes every move and the job's state, the starting point
// that later "move" and "job" events update.
func (st *jobStream) sendSnapshot(snapshot []progress.Move, job model.Job) error {
	st.states = make(map[int64]model.MoveState, len(snapshot))
	all := make([]progressJSON, 0, len(snapshot))
	for _, p := range snapshot {
		st.states[p.MoveID] = p.State
		all = append(all, toProgressJSON(p))
	}
	if err := writeEvent(st.w, "snapshot", all); err != nil {
		return err
	}
	return writeEvent(st.w, "job", newJobStateJSON(job))
}

// relay forwards updates until the browser goes away, a write fails or
// the broker drops the subscription, with a heartbeat while idle and a
// poll of the job's state.
func (st *jobStream) relay(flusher http.Flusher, updates <-chan progress.Move) {
	heartbeat := time.NewTicker(jobEventsHeartbeat)
	defer heartbeat.Stop()
	jobPoll := time.NewTicker(jobEventsJobPoll)
	defer jobPoll.Stop()
	for {
		select {
		case <-st.ctx.Done():
			return
		case <-heartbeat.C:
			if _, err := io.WriteString(st.w, ": heartbeat\n\n"); err != nil {
				return
			}
		case <-jobPoll.C:
			if err := st.sendJobState(); err != nil {
				return
			}
		case p, ok := <-updates:
			if !ok {
				// Dropped for being slow: end the stream so the browser
				// reconnects and starts over from a snapshot.
				return
			}
			if err := st.sendMove(p); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// sendMove writes one move's update. A move's state change may change the
// job's (started, finished); the job is re-read then, not on every byte
// count.
func (st *jobStream) sendMove(p progress.Move) error {
	if err := writeEvent(st.w, "move", toProgressJSON(p)); err != nil {
		return err
	}
	if st.states[p.MoveID] == p.State {
		return nil
	}
	st.states[p.MoveID] = p.State
	return st.sendJobState()
}

// sendJobState re-reads the job and sends its state if it changed. The
// runner finishes a job after publishing its last move, and cancelling
// or retrying changes it without a move event, so it is also polled.
func (st *jobStream) sendJobState() error {
	j, err := st.s.DB.Job(st.ctx, st.id)
	if err != nil {
		if st.ctx.Err() == nil {
			st.s.logger().Warn("job events: reload job", "job", st.id, "err", err)
		}
		return err
	}
	if j.State == st.jobState {
		return nil
	}
	st.jobState = j.State
	return writeEvent(st.w, "job", newJobStateJSON(j))
}

type jobStateJSON struct {
	State      model.JobState `json:"state"`
	StartedAt  string         `json:"started_at"`  // as the page shows it, "" if not yet
	FinishedAt string         `json:"finished_at"` // likewise
}

func newJobStateJSON(j model.Job) jobStateJSON {
	return jobStateJSON{State: j.State, StartedAt: web.JobTime(j.StartedAt), FinishedAt: web.JobTime(j.FinishedAt)}
}

// writeEvent writes one named event with a JSON payload. JSON has no raw
// newlines, so one data line suffices.
func writeEvent(w io.Writer, name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
	return err
}

// deadlineWriter renews the connection's write deadline before each write
// of a stream (see jobEventsWriteTimeout).
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(jobEventsWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return d.w.Write(p)
}

// openStream counts a stream against its person's cap; release undoes it.
func (s *Server) openStream(r *http.Request) (release func(), ok bool) {
	who := clientAddr(r)
	if sess, found := sessionFrom(r.Context()); found {
		who = sess.UID
	}
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	if s.streams == nil {
		s.streams = map[string]int{}
	}
	if s.streams[who] >= maxStreamsPerUser {
		return nil, false
	}
	s.streams[who]++
	return func() {
		s.streamsMu.Lock()
		defer s.streamsMu.Unlock()
		if s.streams[who]--; s.streams[who] <= 0 {
			delete(s.streams, who)
		}
	}, true
}
