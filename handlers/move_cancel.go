package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// moveCancelConfirm asks before cancelling one mailbox's move (GET
// /moves/{id}/cancel, where the Cancel buttons lead); a move that can no
// longer be cancelled gets the reason instead (409).
func (s *Server) moveCancelConfirm(w http.ResponseWriter, r *http.Request) {
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
	from := r.URL.Query().Get("from")
	c := web.CancelConfirm{
		Question: fmt.Sprintf("Cancel the move of %s?", m.UID),
		Notes:    []string{"Its partial copy on the target is removed; the mailbox stays on its source."},
		Action:   fmt.Sprintf("/moves/%d/cancel", m.ID),
		Back:     moveCancelBack(m, from),
	}
	if from == "move" {
		c.Fields = append(c.Fields, web.HiddenField{Name: "from", Value: from})
	}
	status := http.StatusOK
	if refusal := moveCancelRefusal(m); refusal != "" {
		c.Refusal, status = refusal, http.StatusConflict
	}
	s.render(w, r, status, web.CancelConfirmPage(s.page(r, "Cancel "+m.UID, "jobs"), c))
}

// moveCancel cancels one mailbox's move (the confirmation's POST): a
// queued move at once, a running one by request to the runner, which
// removes its partial copy. A move past its cut-over is refused (409).
func (s *Server) moveCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "move")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	m, err := s.DB.CancelMove(r.Context(), id, actor(r))
	if errors.Is(err, db.ErrConflict) {
		// Refused: say why, from the move as it is now.
		now, rerr := s.DB.Move(r.Context(), id)
		if rerr != nil {
			s.renderError(w, r, rerr)
			return
		}
		msg := moveCancelRefusal(now)
		if msg == "" {
			msg = fmt.Sprintf("%s's move cannot be cancelled now.", now.UID)
		}
		s.render(w, r, http.StatusConflict, web.CancelRefusedPage(s.page(r, "Not possible now", "jobs"), msg,
			moveCancelBack(now, r.PostFormValue("from"))))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	msg := fmt.Sprintf("%s's move is being cancelled; its partial copy on the target will be removed and the mailbox stays on its source.", m.UID)
	if m.State == model.MoveCancelled {
		// Ended without the runner: tell the live pages now.
		s.publish(m)
		msg = fmt.Sprintf("%s's move was cancelled; nothing had been copied.", m.UID)
	}
	s.Runner.Wake()
	redirectFlash(w, r, moveCancelBack(m, r.PostFormValue("from")), msg)
}

// moveCancelRefusal is why m cannot be cancelled, or "" if it can.
func moveCancelRefusal(m model.Move) string {
	switch {
	case !m.Unfinished():
		return fmt.Sprintf("%s's move has already finished (%s); there is nothing to cancel.", m.UID, m.State)
	case m.Phase.PastCutover():
		return pastCutoverSentence(m.UID)
	}
	return ""
}

// pastCutoverSentence is the answer to cancelling a move past its cut-over.
func pastCutoverSentence(uid string) string {
	return fmt.Sprintf("%s's mailbox is past its cut-over (the directory already names the target); it cannot be cancelled and will finish its move.", uid)
}

// moveCancelBack is where a cancel returns to: the mailbox page when it
// started there, else the job page.
func moveCancelBack(m model.Move, from string) string {
	if from == "move" {
		return fmt.Sprintf("/moves/%d", m.ID)
	}
	return fmt.Sprintf("/jobs/%d", m.JobID)
}

// publish hands a move's state, changed without a mover and committed, to
// the live pages.
func (s *Server) publish(m model.Move) {
	if s.Broker != nil {
		s.Broker.Publish(m)
	}
}
