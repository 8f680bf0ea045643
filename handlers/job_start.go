package handlers

import (
	"fmt"
	"net/http"
	"strconv"
)

// jobStartNow starts a job that waits for its start time now
// (POST /jobs/{id}/start-now).
func (s *Server) jobStartNow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.DB.StartNow(r.Context(), id, actor(r)); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake()
	s.logger().Info("job brought forward", "job", id, "user", actor(r))
	redirectFlash(w, r, "/jobs/"+strconv.FormatInt(id, 10), fmt.Sprintf("Job %d starts now.", id))
}
