package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// wizardStart creates the job from the wizard's choices (CreateJob also
// writes the audit row), wakes the runner and shows the job. A user with
// an unfinished move makes CreateJob refuse the whole job: 409 naming the
// user and the job.
func (s *Server) wizardStart(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(st.Users) == 0 || st.Target == "" {
		s.renderError(w, r, invalidf("The wizard is not complete: choose users and a target server first."))
		return
	}
	dst, ok := s.Config.Server(st.Target)
	if o := s.targetOption(st, dst); !ok || !o.Eligible {
		s.renderError(w, r, invalidf("The target server %s no longer suits the selection; choose the target again.", st.Target))
		return
	}
	checked, isChecked := st.checked()
	if isChecked {
		if uids := checked.problems(st); len(uids) > 0 {
			redirectFlash(w, r, "/wizard/summary", fmt.Sprintf("Not started: the preflight found problems with %s (%s). Remove them from the selection, or fix them and check again.",
				plural(len(uids), "user", "users"), listUIDs(uids, 10)))
			return
		}
	}
	job := model.Job{CreatedBy: actor(r), Target: st.Target, Policy: st.Policy, Parallel: st.Parallel,
		KeepSource: st.KeepSource, StartAt: st.StartAt, CancelAfterHours: st.CancelAfterHours,
		Stage: st.Stage}
	if st.Stage {
		job.CompleteAt = st.CompleteAt
	}
	if st.Policy == model.PolicySkip {
		job.MaxBad = st.MaxBad
	}
	n := s.notifyChoice(st)
	job.NotifyEmails, job.NotifyWebhook = strings.Join(n.Emails, ","), n.Webhook
	if job.Parallel < 1 {
		job.Parallel = wizardDefaultPar
	}
	job, err = s.DB.CreateJob(r.Context(), job, st.UIDs())
	var held *db.HeldError
	if errors.As(err, &held) {
		// Not a dead end: back to the summary, whose preflight names the
		// user, with the way to remove them.
		redirectFlash(w, r, "/wizard/summary", "Not started: "+held.Error()+". Remove the user from the selection, or wait for that job to finish.")
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if isChecked {
		// The totals cover every mailbox from the start. The job exists
		// already: without them its totals grow as moves start.
		if err := s.DB.SetEstimates(r.Context(), job.ID, checked.estimates(st)); err != nil {
			s.logger().Error("job totals from preflight", "job", job.ID, "err", err)
		}
	}
	s.Runner.Wake()
	if err := s.clearWizard(r); err != nil {
		// The job exists; a stale wizard is only an inconvenience.
		s.logger().Error("clear wizard after start", "job", job.ID, "err", err)
	}
	s.logger().Info("job started from wizard", "job", job.ID, "user", actor(r), "mailboxes", len(st.Users))
	http.Redirect(w, r, "/jobs/"+strconv.FormatInt(job.ID, 10), http.StatusSeeOther)
}

// wizardReset forgets the wizard's choices.
func (s *Server) wizardReset(w http.ResponseWriter, r *http.Request) {
	if err := s.clearWizard(r); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/wizard/users", "Started over.")
}
