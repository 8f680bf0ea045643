package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/web"
)

// jobEventsHeartbeat keeps proxies from closing an idle stream and lets the
// server notice a vanished browser.
const jobEventsHeartbeat = 15 * time.Second

// jobEventsWriteTimeout bounds each write of a stream: the server's write
// timeout, meant for pages, is lifted for streams, and a browser that stops
// reading is cut off after this long instead of holding the connection.
const jobEventsWriteTimeout = 30 * time.Second

// maxStreamsPerUser bounds the live streams one signed-in person holds
// open (tabs, reconnects); each costs a connection and a subscription.
const maxStreamsPerUser = 8

// jobEventsMaxIDs bounds the moves one stream follows: a page shows
// jobPageRows of them.
const jobEventsMaxIDs = 200

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

// jobEvents streams a job page's live state as server-sent events: a
// "snapshot" first, then at most one "update" per interval (jobHubInterval)
// while something changed. Each carries the changed rows among the moves
// the page shows (?ids=1,2,3; the first event every one the broker knows),
// the whole job's totals when they changed, and the job's state when it
// changed. Every connection starts with a fresh snapshot, so a
// reconnecting browser misses nothing.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	id, job, ok := s.eventsJob(w, r)
	if !ok {
		return
	}
	ids, err := parseEventIDs(r.URL.Query().Get("ids"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
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
	hub, leave := s.joinHub(id)
	defer leave()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// From here on only events are written; errors end the stream.
	if _, err := io.WriteString(w, ": stream\n\n"); err != nil {
		return
	}
	flusher.Flush()

	rc := http.NewResponseController(w)
	st := &jobStream{s: s, w: deadlineWriter{w: w, rc: rc}, id: id, ids: ids, jobState: job.State}
	st.relay(r.Context(), flusher, hub)
}

// parseEventIDs reads the comma-separated move IDs a page follows.
func parseEventIDs(raw string) ([]int64, error) {
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > jobEventsMaxIDs {
		return nil, fmt.Errorf("a page follows at most %d mailboxes, not %d", jobEventsMaxIDs, len(parts))
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("ids: %s is not a move number", echo(p))
		}
		ids = append(ids, id)
	}
	return ids, nil
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
// goroutine only; it remembers what the browser was last told (each row's
// publish time, the totals, the job's state) so that it sends changes only.
type jobStream struct {
	s        *Server
	w        io.Writer
	id       int64
	ids      []int64             // the moves the page shows
	sent     map[int64]time.Time // by move ID: the publish time of the row last sent
	totals   []byte              // the totals last sent
	jobState model.JobState      // the job's state last sent
	started  bool                // the snapshot was sent
}

// jobEventJSON is one snapshot or update; an update leaves out what did
// not change.
type jobEventJSON struct {
	Moves  []progressJSON  `json:"moves"`
	Totals json.RawMessage `json:"totals,omitempty"`
	Job    *jobStateJSON   `json:"job,omitempty"`
}

// relay sends a snapshot at the hub's first tick and an update at each
// later one that changed something, with a heartbeat while idle, until the
// browser goes away or a write fails.
func (st *jobStream) relay(ctx context.Context, flusher http.Flusher, hub *hubStream) {
	heartbeat := time.NewTicker(jobEventsHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if _, err := io.WriteString(st.w, ": heartbeat\n\n"); err != nil {
				return
			}
		case t := <-hub.ch:
			if err := st.send(t); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// send writes what changed since the last event: the shown rows the broker
// published since, the totals and the job's state.
func (st *jobStream) send(t *jobTick) error {
	if st.sent == nil {
		st.sent = make(map[int64]time.Time, len(st.ids))
	}
	ev := jobEventJSON{Moves: []progressJSON{}}
	latest := st.s.Broker.Latest(st.ids)
	for _, id := range st.ids {
		p, ok := latest[id]
		if !ok || p.JobID != st.id {
			continue
		}
		if at, seen := st.sent[id]; seen && at.Equal(p.At) {
			continue
		}
		st.sent[id] = p.At
		ev.Moves = append(ev.Moves, toProgressJSON(p))
	}
	if !st.started || !bytes.Equal(t.totals, st.totals) {
		st.totals, ev.Totals = t.totals, t.totals
	}
	if !st.started || t.job.State != st.jobState {
		st.jobState = t.job.State
		j := newJobStateJSON(t.job)
		ev.Job = &j
	}
	name := "update"
	if !st.started {
		name, st.started = "snapshot", true
	} else if len(ev.Moves) == 0 && ev.Totals == nil && ev.Job == nil {
		return nil
	}
	return writeEvent(st.w, name, ev)
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
