package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
	"github.com/movewizard/movewizard/web/format"
)

// wizardSummary is step 5: the choices and the preflight table, filled by
// wizard.js from the preflight stream, or checked right here with
// ?preflight=now (for browsers without scripts).
func (s *Server) wizardSummary(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 5) {
		return
	}
	dst, ok := s.Config.Server(st.Target)
	o := s.targetOption(st, dst)
	if !ok || !o.Eligible {
		redirectFlash(w, r, "/wizard/target", "The target no longer suits the selection; choose again.")
		return
	}
	v := web.WizardSummary{Users: len(st.Users), Target: st.Target, Parallel: st.Parallel,
		Policy: "abandon the mailbox at the first item that cannot be read", Source: "removed after verification",
		Start: "now", CancelAfter: "never"}
	if st.Policy == model.PolicySkip {
		v.Policy = fmt.Sprintf("skip items that cannot be read, at most %d per mailbox", st.MaxBad)
	}
	if st.KeepSource {
		v.Source = "kept on the source server"
	}
	if !st.StartAt.IsZero() {
		v.Start = format.Time(st.StartAt)
	}
	v.Mode = "move now (copy, switch, remove)"
	if st.Stage {
		v.Mode, v.Complete = "sync, then wait to complete", "when an admin completes it (Complete now on the job page)"
		if !st.CompleteAt.IsZero() {
			v.Complete = "at " + format.Time(st.CompleteAt)
		}
	}
	if st.CancelAfterHours > 0 {
		v.CancelAfter = fmt.Sprintf("after %d hours", st.CancelAfterHours)
	}
	v.Notify = notifySummary(s.Config.Notify.Enabled(), s.notifyChoice(st))
	if o.Skipped > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d of %d selected users will be skipped: %s.", o.Skipped, len(st.Users), o.SkipReason))
	}
	p := s.page(r, "New move: summary", "wizard")
	if r.URL.Query().Get("preflight") == "now" {
		v.Rows = make([]web.PreflightRow, len(st.Users))
		err := s.preflightAll(r.Context(), st, func(i int, row web.PreflightRow) bool {
			v.Rows[i] = row
			return true
		})
		if err != nil {
			s.renderError(w, r, fmt.Errorf("preflight: %w", err))
			return
		}
		v.Checked = true
		s.recordPreflight(r, st, v.Rows)
	} else {
		for _, u := range st.Users {
			v.Rows = append(v.Rows, web.PreflightRow{UID: u.UID, Name: u.Name, Source: u.Source})
		}
		v.EventsURL = "/wizard/preflight/events"
		p.Scripts = append(p.Scripts, s.Assets.URL("wizard.js"))
	}
	s.render(w, r, http.StatusOK, web.WizardSummaryPage(p, v))
}

// notifySummary is the summary's "Notify" line.
func notifySummary(configured bool, n wizardNotify) string {
	var parts []string
	if len(n.Emails) > 0 {
		parts = append(parts, "e-mail to "+strings.Join(n.Emails, ", "))
	}
	if n.Webhook {
		parts = append(parts, "the webhook")
	}
	switch {
	case !configured:
		return "nobody (no notifications are configured)"
	case len(parts) == 0:
		return "nobody"
	}
	return strings.Join(parts, " and ")
}
