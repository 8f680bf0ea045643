package handlers

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// userPage answers helpdesk's question "where is the mailbox now?" and
// lists the user's moves (GET /users/{uid}). A user gone from the directory
// still has a history; a uid known to neither is a 404.
func (s *Server) userPage(w http.ResponseWriter, r *http.Request) {
	uid := chi.URLParam(r, "uid")
	v := web.UserStatus{UID: uid}
	u, err := s.Dir.Lookup(r.Context(), uid)
	switch {
	case err == nil:
		v.InDirectory = true
		// The directory's spelling, since moves are stored under it.
		v.UID, v.Name, v.Mail, v.Home = u.UID, u.Name, u.Mail, s.userHome(u.Home)
	case errors.Is(err, directory.ErrNotFound):
	default:
		// The history is in our own database and still worth showing.
		s.logger().Error("look up user", "uid", uid, "err", err)
		v.DirectoryFailed = true
	}
	moves, err := s.DB.UserMoves(r.Context(), v.UID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !v.InDirectory && !v.DirectoryFailed && len(moves) == 0 {
		s.renderError(w, r, notFoundf("There is no user %s in the directory, and no move of that uid.", echo(uid)))
		return
	}
	for _, m := range moves {
		row := userMoveRow(m)
		if m.Unfinished() && v.Current == nil {
			v.Current = &row
			if j, err := s.DB.Job(r.Context(), m.JobID); err == nil {
				if m.State == model.MoveQueued {
					v.CurrentStarts = web.StartsIn(j.StartAt, s.now())
				}
				if !m.CompleteRequested {
					v.CurrentCompletes = web.JobCompletes(j, s.now())
				} else if j.Stage {
					v.CurrentCompletes = "is completing (asked to complete)"
				}
			} else {
				s.logger().Error("user page: job of the unfinished move", "job", m.JobID, "err", err)
			}
		}
		v.Moves = append(v.Moves, row)
	}
	s.render(w, r, http.StatusOK, web.UserPage(s.page(r, "User "+v.UID, "users"), v))
}

// userMoveRow is the view of one move on the user page.
func userMoveRow(m model.Move) web.UserMoveRow {
	return web.UserMoveRow{
		MoveID: m.ID, JobID: m.JobID,
		Created: m.CreatedAt, Finished: m.FinishedAt,
		From: m.Source, To: m.Target,
		State: m.State, Phase: m.Phase, Folder: m.CurrentFolder,
		MsgsDone: m.MsgsDone, MsgsTotal: m.MsgsTotal,
		BytesDone: m.BytesDone, BytesTotal: m.BytesTotal,
		Skipped: m.Skipped, Error: m.Error, Attempt: m.Attempt,
		LastSyncAt: m.LastSyncAt,
	}
}
