package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// Complete now (issue 12): a staged job's moves wait synced until they are
// asked to complete (db.RequestComplete sets the flag the runner reads).
// Each action first asks on a page of its own, like a cancel; a job or a
// move that cannot complete gets the reason (409).

// completeNote says what completion does; the confirmation pages show it.
const completeNote = "Completion runs a last sync, the directory switch, the final delta (mail, flags and deletions made on the source meanwhile, verified), then the source is removed (unless the job keeps it). It cannot be undone once the directory is switched."

// jobCompleteConfirm asks before completing a staged job (GET
// /jobs/{id}/complete).
func (s *Server) jobCompleteConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	totals, err := s.DB.JobTotals(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	c := web.CancelConfirm{
		Question: fmt.Sprintf("Complete job #%d now?", id),
		Notes:    []string{completeNote},
		Action:   fmt.Sprintf("/jobs/%d/complete", id),
		Back:     fmt.Sprintf("/jobs/%d", id),
	}
	if n := totals.ByState[model.MoveSynced]; n > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s synced and waiting will complete now.", jobCount(n)))
	}
	if n := totals.ByState[model.MoveRunning] + totals.ByState[model.MoveQueued]; n > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s still syncing or queued will complete as soon as %s synced.", jobCount(n), oneOrMany(n, "it is", "they are")))
	}
	status := http.StatusOK
	if refusal := jobCompleteRefusal(job); refusal != "" {
		c.Refusal, status = refusal, http.StatusConflict
	}
	s.render(w, r, status, web.CompleteConfirmPage(s.page(r, fmt.Sprintf("Complete job #%d", id), "jobs"), c))
}

// jobComplete asks every unfinished move of a staged job to complete (the
// confirmation's POST).
func (s *Server) jobComplete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	n, err := s.DB.CompleteJob(r.Context(), id, actor(r))
	if errors.Is(err, db.ErrConflict) {
		job, jerr := s.DB.Job(r.Context(), id)
		if jerr != nil {
			s.renderError(w, r, jerr)
			return
		}
		msg := jobCompleteRefusal(job)
		if msg == "" {
			msg = fmt.Sprintf("Job %d cannot be completed now.", id)
		}
		s.render(w, r, http.StatusConflict, web.CompleteRefusedPage(s.page(r, "Not possible now", "jobs"), msg, fmt.Sprintf("/jobs/%d", id)))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake()
	s.logger().Info("job completion requested", "job", id, "user", actor(r), "mailboxes", n)
	msg := fmt.Sprintf("Job %d: %s asked to complete; each syncs once more, switches to the target, copies the final delta, then its source is removed.", id, jobCount(n))
	if n == 0 {
		msg = fmt.Sprintf("Job %d: every unfinished mailbox is completing or being cancelled already.", id)
	}
	jobRedirect(w, r, id, msg)
}

// jobCompleteRefusal is why a job cannot be completed, or "" if it can.
func jobCompleteRefusal(j model.Job) string {
	switch {
	case !j.Stage:
		return fmt.Sprintf("Job %d is not staged: its mailboxes move in one go (copy, switch, remove) and complete by themselves; there is nothing to complete.", j.ID)
	case !j.State.Open():
		return fmt.Sprintf("Job %d has already finished (%s); there is nothing to complete.", j.ID, j.State.Label())
	}
	return ""
}

// moveCompleteConfirm asks before completing one mailbox's staged move
// (GET /moves/{id}/complete).
func (s *Server) moveCompleteConfirm(w http.ResponseWriter, r *http.Request) {
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
	c := web.CancelConfirm{
		Question: fmt.Sprintf("Complete the move of %s now?", m.UID),
		Notes:    []string{completeNote},
		Action:   fmt.Sprintf("/moves/%d/complete", m.ID),
		Back:     fmt.Sprintf("/moves/%d", m.ID),
	}
	status := http.StatusOK
	if refusal := moveCompleteRefusal(job, m); refusal != "" {
		c.Refusal, status = refusal, http.StatusConflict
	}
	s.render(w, r, status, web.CompleteConfirmPage(s.page(r, "Complete "+m.UID, "jobs"), c))
}

// moveComplete asks one staged move to complete (the confirmation's POST).
func (s *Server) moveComplete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "move")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	m, err := s.DB.RequestComplete(r.Context(), id, actor(r))
	if errors.Is(err, db.ErrConflict) {
		now, merr := s.DB.Move(r.Context(), id)
		if merr != nil {
			s.renderError(w, r, merr)
			return
		}
		job, jerr := s.DB.Job(r.Context(), now.JobID)
		if jerr != nil {
			s.renderError(w, r, jerr)
			return
		}
		msg := moveCompleteRefusal(job, now)
		if msg == "" {
			msg = fmt.Sprintf("%s's move cannot be completed now.", now.UID)
		}
		s.render(w, r, http.StatusConflict, web.CompleteRefusedPage(s.page(r, "Not possible now", "jobs"), msg, fmt.Sprintf("/moves/%d", id)))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.Runner.Wake()
	redirectFlash(w, r, fmt.Sprintf("/moves/%d", m.ID),
		fmt.Sprintf("%s's move is asked to complete: a last sync, the directory switch, the final delta, then the source is removed.", m.UID))
}

// moveCompleteRefusal is why m cannot be completed, or "" if it can. The
// rule is db.RequestComplete's; this describes the refused move.
func moveCompleteRefusal(j model.Job, m model.Move) string {
	switch {
	case !j.Stage:
		return fmt.Sprintf("%s's move is not staged (job %d moves in one go); it completes by itself, there is nothing to complete.", m.UID, j.ID)
	case !m.Unfinished():
		return fmt.Sprintf("%s's move has already finished (%s); there is nothing to complete.", m.UID, m.State.Label())
	case m.CompleteRequested || m.Phase.PastCutover():
		return fmt.Sprintf("%s's move is completing already.", m.UID)
	case m.CancelRequested:
		return fmt.Sprintf("%s's move is being cancelled; it cannot be completed.", m.UID)
	}
	return ""
}

// completeRefusal names why RequestComplete refused a mailbox of a bulk
// completion, from the move as read after the refusal.
func completeRefusal(j model.Job, m model.Move, err error) string {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return "no longer exist"
	case errors.Is(err, db.ErrNotStaged), !j.Stage:
		return "are not staged and complete by themselves"
	case !m.Unfinished():
		return "had already finished"
	case m.CompleteRequested || m.Phase.PastCutover():
		return "were completing already"
	case m.CancelRequested:
		return "are being cancelled"
	}
	return "could not be completed now"
}
