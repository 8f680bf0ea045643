package handlers

import (
	"fmt"
	"net/http"
)

// moveRetry queues a failed, abandoned or cancelled move again. A user
// already in another unfinished job is refused with a 409 naming it.
func (s *Server) moveRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "move")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	m, err := s.DB.RetryMove(r.Context(), id, actor(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake() // its next round also tells live pages
	jobRedirect(w, r, m.JobID, fmt.Sprintf("The move of %s is queued again (attempt %d).", m.UID, m.Attempt))
}
