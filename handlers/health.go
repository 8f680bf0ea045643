package handlers

import (
	"encoding/json"
	"net/http"
)

// health answers load balancers and monitoring: the database answers and
// how much the runner is doing. It shows no names and needs no sign-in.
//
// When the database does not answer, the status says so (503) and
// open_jobs is left out: a count of 0 would claim that nothing is waiting.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	body := map[string]any{}
	open, err := s.DB.OpenJobs(r.Context())
	if err != nil {
		s.logger().Error("health: database", "err", err)
		status, code = "database error", http.StatusServiceUnavailable
	} else {
		body["open_jobs"] = len(open)
	}
	body["status"] = status
	if s.Runner != nil {
		body["running_moves"] = s.Runner.Running()
	}
	if s.Broker != nil {
		body["dropped_subscribers"] = s.Broker.Dropped()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		// The prober went away or the connection broke; nothing to answer.
		s.logger().Debug("health: write answer", "err", err)
	}
}
