package handlers

import (
	"net/http"

	"github.com/movewizard/movewizard/web"
)

// movePage shows one mailbox's move: state, counts, history and the items
// its error policy skipped.
func (s *Server) movePage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "move")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	m, err := s.DB.Move(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), m.JobID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	events, err := s.DB.Events(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	skipped, err := s.DB.Skipped(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	p := s.page(r, "Mailbox "+m.UID, "jobs")
	v := web.MoveView{Job: job, Move: m, Events: events, Skipped: skipped, CanAct: p.IsAdmin(), Now: s.now()}
	s.render(w, r, http.StatusOK, web.MovePage(p, v))
}
