package handlers

import (
	"fmt"
	"net/http"
)

// jobCancel cancels a job's unfinished moves: queued ones at once, running
// ones by request to the runner.
func (s *Server) jobCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.DB.CancelJob(r.Context(), id, actor(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake() // its next round also tells live pages
	jobRedirect(w, r, id, fmt.Sprintf("Job %d is cancelled: queued mailboxes will not move, running ones stop shortly and stay on their source.", id))
}

// jobRedirect sends the person back to the job page with a message
// (Post/Redirect/Get).
func jobRedirect(w http.ResponseWriter, r *http.Request, jobID int64, flash string) {
	redirectFlash(w, r, fmt.Sprintf("/jobs/%d", jobID), flash)
}
