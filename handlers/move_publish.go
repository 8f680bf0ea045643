package handlers

import (
	"net/http"

	"github.com/movewizard/movewizard/db"
)

// publishChanged tells live job pages about moves whose state an action
// changed in the store without the runner (cancelling queued moves,
// queueing a retry): the runner publishes only moves it runs. It runs
// after the change committed.
func (s *Server) publishChanged(r *http.Request, jobID int64, before []db.Move) {
	if s.Broker == nil {
		return
	}
	after, err := s.DB.Moves(r.Context(), jobID)
	if err != nil {
		// The change is committed; live pages catch up on reconnect.
		s.logger().Warn("reload moves to publish", "job", jobID, "err", err)
		return
	}
	old := make(map[int64]string, len(before))
	for _, m := range before {
		old[m.ID] = m.State
	}
	for _, m := range after {
		if old[m.ID] != m.State {
			s.Broker.Publish(m)
		}
	}
}
