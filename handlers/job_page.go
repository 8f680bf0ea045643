package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/web"
)

// jobPage shows a job with one live row per mailbox. Helpdesk staff see the
// same page without the buttons.
func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	moves, err := s.DB.Moves(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rates := s.jobRates(r.Context(), id)
	v := web.JobView{Job: job}
	counts := map[model.MoveState]int{}
	for _, m := range moves {
		row := web.MoveRow{Move: m}
		if p, ok := rates[m.ID]; ok {
			row.Rate, row.ETA = p.Rate, p.ETA
		}
		v.Moves = append(v.Moves, row)
		counts[m.State]++
		v.Totals.MsgsDone += m.MsgsDone
		v.Totals.MsgsTotal += m.MsgsTotal
		v.Totals.BytesDone += m.BytesDone
		v.Totals.BytesTotal += m.BytesTotal
		v.Totals.Skipped += m.Skipped
	}
	v.Totals.Mailboxes = len(moves)
	v.Totals.ByState = orderedCounts(counts)
	p := s.page(r, "Job #"+strconv.FormatInt(id, 10), "jobs")
	v.CanAct = p.IsAdmin()
	p.Scripts = []string{s.Assets.URL("live.js")}
	s.render(w, r, http.StatusOK, web.JobPage(p, v))
}

// jobRates returns the broker's current rate and ETA per move, so the
// first render already shows them. Without a broker, or if it fails, the
// page shows none until live.js receives its snapshot.
func (s *Server) jobRates(ctx context.Context, jobID int64) map[int64]progress.Move {
	out := map[int64]progress.Move{}
	if s.Broker == nil {
		return out
	}
	snap, _, cancel, err := s.Broker.Subscribe(ctx, jobID, 1)
	if err != nil {
		s.logger().Warn("job page: progress snapshot", "job", jobID, "err", err)
		return out
	}
	cancel()
	for _, p := range snap {
		out[p.MoveID] = p
	}
	return out
}
