package handlers

import (
	"fmt"
	"net/http"
)

// moveCancel asks the runner to cancel one mailbox's move; the mailbox
// stays on its source.
func (s *Server) moveCancel(w http.ResponseWriter, r *http.Request) {
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
	if err := s.DB.RequestCancel(r.Context(), id, actor(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake()
	jobRedirect(w, r, m.JobID, fmt.Sprintf("The move of %s is being cancelled; the mailbox stays on %s.", m.UID, moveSourceName(m.Source)))
}

func moveSourceName(server string) string {
	if server == "" {
		return "its source server"
	}
	return server
}
