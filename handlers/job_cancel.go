package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/web"
)

// jobCancelConfirm asks before cancelling a job (GET /jobs/{id}/cancel,
// where the job page's Cancel job leads), saying what happens to its
// unfinished mailboxes now.
func (s *Server) jobCancelConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	preview, err := s.DB.JobCancelPreview(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	c := web.CancelConfirm{
		Question: fmt.Sprintf("Cancel job #%d?", id),
		Notes:    jobCancelNotes(preview),
		Action:   fmt.Sprintf("/jobs/%d/cancel", id),
		Back:     fmt.Sprintf("/jobs/%d", id),
	}
	s.render(w, r, http.StatusOK, web.CancelConfirmPage(s.page(r, fmt.Sprintf("Cancel job #%d", id), "jobs"), c))
}

// jobCancel cancels a job's unfinished moves (the confirmation's POST):
// queued ones at once, running ones by request to the runner; those past
// their cut-over finish.
func (s *Server) jobCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	c, err := s.DB.CancelJob(r.Context(), id, actor(r))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	for _, m := range c.Moves {
		s.publish(m) // ended without the runner: tell the live pages now
	}
	s.Runner.Wake()
	jobRedirect(w, r, id, jobCancelFlash(id, c))
}

// jobCancelNotes says what cancelling the job would do, by kind of
// mailbox.
func jobCancelNotes(c db.JobCancel) []string {
	var notes []string
	if n := c.Cancelled; n > 0 {
		notes = append(notes, fmt.Sprintf("%s not started yet will not move.", jobCount(n)))
	}
	if n := c.Stopping; n > 0 {
		notes = append(notes, fmt.Sprintf("%s under way will stop: %s on the target %s removed and %s on %s source.", jobCount(n),
			oneOrMany(n, "its partial copy", "their partial copies"), oneOrMany(n, "is", "are"), oneOrMany(n, "it stays", "they stay"), oneOrMany(n, "its", "their")))
	}
	if n := c.Finishing; n > 0 {
		notes = append(notes, fmt.Sprintf("%s past %s cut-over (the directory already names the target) cannot be cancelled and will finish %s.", jobCount(n),
			oneOrMany(n, "its", "their"), oneOrMany(n, "its move", "their moves")))
	}
	if len(notes) == 0 {
		notes = append(notes, "No mailbox of the job is unfinished; the job ends as cancelled.")
	}
	return notes
}

// jobCancelFlash says what cancelling the job did.
func jobCancelFlash(id int64, c db.JobCancel) string {
	var parts []string
	if n := c.Cancelled; n > 0 {
		parts = append(parts, fmt.Sprintf("%s cancelled (nothing had been copied)", jobCount(n)))
	}
	if n := c.Stopping; n > 0 {
		parts = append(parts, fmt.Sprintf("%s being cancelled (%s on the target will be removed; %s on %s source)", jobCount(n),
			oneOrMany(n, "its partial copy", "their partial copies"), oneOrMany(n, "it stays", "they stay"), oneOrMany(n, "its", "their")))
	}
	if n := c.Finishing; n > 0 {
		parts = append(parts, fmt.Sprintf("%s past %s cut-over will finish %s", jobCount(n), oneOrMany(n, "its", "their"), oneOrMany(n, "its move", "their moves")))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("Job %d is cancelled; it had no unfinished mailboxes.", id)
	}
	return fmt.Sprintf("Job %d is cancelled: %s.", id, strings.Join(parts, "; "))
}

// oneOrMany is one for a single mailbox, else many.
func oneOrMany(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// jobRedirect sends the person back to the job page with a message
// (Post/Redirect/Get).
func jobRedirect(w http.ResponseWriter, r *http.Request, jobID int64, flash string) {
	redirectFlash(w, r, fmt.Sprintf("/jobs/%d", jobID), flash)
}
