package handlers

import (
	"encoding/json"
	"net/http"
)

// health answers load balancers and monitoring: the database answers and
// how much the runner is doing. It shows no names and needs no sign-in.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	open, err := s.DB.OpenJobs(r.Context())
	if err != nil {
		s.logger().Error("health: database", "err", err)
		status, code = "database error", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status, "open_jobs": len(open)}
	if s.Runner != nil {
		body["running_moves"] = s.Runner.Running()
	}
	if s.Broker != nil {
		body["dropped_subscribers"] = s.Broker.Dropped()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}
