package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/web"
)

// wizardPreflights is how many users are checked at once: enough for a
// thousand users to finish in reasonable time, few enough not to look like
// an attack to the IMAP servers.
const wizardPreflights = 8

// wizardPreflightEvents streams one "preflight" event per selected user as
// its check finishes, then "done": a long check shows its results as they
// come, so one slow server does not leave the page blank.
func (s *Server) wizardPreflightEvents(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(st.Users) == 0 || st.Target == "" {
		s.renderError(w, r, invalidf("Choose users and a target server before the preflight."))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.renderError(w, r, errors.New("preflight events: response writer cannot flush"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not buffer the stream
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	send := func(event string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", event, err)
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	problems := 0
	var sendErr error
	rows := make([]web.PreflightRow, len(st.Users))
	err = s.preflightAll(r.Context(), st, func(i int, row web.PreflightRow) bool {
		if row.Status == "problem" {
			problems++
		}
		rows[i] = row
		sendErr = send("preflight", row)
		return sendErr == nil
	})
	if err != nil || sendErr != nil {
		// The browser left or the connection broke: nothing more to say,
		// and no error page once the stream began.
		s.logger().Debug("preflight stream ended", "err", errors.Join(err, sendErr))
		return
	}
	// Kept before "done", so that a Start or "remove the users with
	// problems" clicked at once sees it.
	s.recordPreflight(r, st, rows)
	if err := send("done", struct {
		Count    int `json:"count"`
		Problems int `json:"problems"`
	}{len(st.Users), problems}); err != nil {
		s.logger().Debug("preflight stream ended", "err", err)
	}
}

// preflightAll checks every selected user, wizardPreflights at once, and
// calls emit from the calling goroutine as each check finishes (i is the
// user's index). It stops early when ctx ends or emit returns false, and
// returns only after every check it started has ended.
func (s *Server) preflightAll(ctx context.Context, st wizardState, emit func(i int, row web.PreflightRow) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	type result struct {
		i   int
		row web.PreflightRow
	}
	next := make(chan int)
	results := make(chan result)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(next)
		for i := range st.Users {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range min(wizardPreflights, len(st.Users)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				row := s.preflightOne(ctx, st.Users[i].UID, st.Target)
				select {
				case results <- result{i, row}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	for range st.Users {
		select {
		case res := <-results:
			if !emit(res.i, res.row) {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// preflightOne checks one user, including an unfinished move in the job
// store, which would make the start fail.
func (s *Server) preflightOne(ctx context.Context, uid, target string) web.PreflightRow {
	var held int64
	m, ok, err := s.DB.UnfinishedMoveForUser(ctx, uid)
	if err != nil && ctx.Err() == nil {
		s.logger().Error("preflight: unfinished moves", "user", uid, "err", err)
	}
	if ok {
		held = m.JobID
	}
	check := migrate.CheckMove(ctx, s.Config, s.Dir, uid, target)
	if err != nil {
		check.Errors = append(check.Errors, "The job store could not be read; the start may be refused.")
	}
	return web.NewPreflightRow(check, held)
}
