package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/movewizard/movewizard/web"
)

// wizardSchedule is step 4: start time, mode (and a staged job's
// completion time), cancel-after and moves at once.
// Times are the server's local time: the admin schedules the server's
// work, and the browser's zone is unknown without scripts.
func (s *Server) wizardSchedule(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 4) {
		return
	}
	f := web.WizardScheduleForm{When: "now", Parallel: strconv.Itoa(st.Parallel), Zone: zoneName(s.now())}
	if !st.StartAt.IsZero() {
		f.When, f.StartAt = "at", st.StartAt.In(time.Local).Format(web.DateTimeLocal)
	}
	f.Mode = "move"
	if st.Stage {
		f.Mode = "stage"
	}
	if !st.CompleteAt.IsZero() {
		f.CompleteAt = st.CompleteAt.In(time.Local).Format(web.DateTimeLocal)
	}
	if st.CancelAfterHours > 0 {
		f.CancelAfter = strconv.Itoa(st.CancelAfterHours)
	}
	s.notifyFields(&f)
	n := s.notifyChoice(st)
	f.NotifyEmails, f.NotifyWebhook = strings.Join(n.Emails, ", "), n.Webhook
	s.render(w, r, http.StatusOK, web.WizardSchedulePage(s.page(r, "New move: schedule", "wizard"), f))
}

func (s *Server) wizardScheduleSave(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 4) {
		return
	}
	f := web.WizardScheduleForm{When: r.PostFormValue("when"), StartAt: r.PostFormValue("start_at"),
		CancelAfter: r.PostFormValue("cancel_after"), Parallel: r.PostFormValue("parallel"), Zone: zoneName(s.now()),
		NotifyEmails: r.PostFormValue("notify_emails"), NotifyWebhook: r.PostFormValue("notify_webhook") != "",
		Mode: r.PostFormValue("mode"), CompleteAt: r.PostFormValue("complete_at")}
	s.notifyFields(&f)
	sch := f.Validate(s.now(), time.Local, wizardMaxCancelHours, wizardMaxParallel)
	if f.HasError() {
		s.render(w, r, http.StatusUnprocessableEntity, web.WizardSchedulePage(s.page(r, "New move: schedule", "wizard"), f))
		return
	}
	st.StartAt, st.CancelAfterHours, st.Parallel = sch.StartAt, sch.CancelAfterHours, sch.Parallel
	st.Stage, st.CompleteAt = sch.Stage, sch.CompleteAt
	st.Notify = &wizardNotify{Emails: sch.NotifyEmails, Webhook: sch.NotifyWebhook}
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/wizard/summary", http.StatusSeeOther)
}

// notifyFields offers the Notify fields the configuration has channels for.
func (s *Server) notifyFields(f *web.WizardScheduleForm) {
	f.CanEmail, f.CanWebhook = s.Config.Notify.SMTP != nil, len(s.Config.Notify.Webhooks) > 0
}

func zoneName(t time.Time) string {
	name, _ := t.In(time.Local).Zone()
	return name
}
