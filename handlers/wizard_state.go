package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// Limits of the wizard's choices.
const (
	wizardMaxUsers       = 5000 // selection size, and the "select all matching" cap
	wizardMaxBad         = 1000
	wizardMaxParallel    = 30
	wizardMaxCancelHours = 48
	wizardDefaultPar     = 4
	wizardDefaultMaxBad  = 10
)

// wizardState is what the admin chose so far. It lives in the database per
// session (db.WizardState), so back links and reloads keep every choice
// and several tabs of one session see the same wizard.
type wizardState struct {
	Users            []wizardUser `json:"users"` // in the order added, no duplicates
	Target           string       `json:"target"`
	Policy           model.Policy `json:"policy"`
	MaxBad           int          `json:"max_bad"`
	KeepSource       bool         `json:"keep_source"`
	StartAt          time.Time    `json:"start_at"` // zero: start now
	CancelAfterHours int          `json:"cancel_after_hours"`
	Parallel         int          `json:"parallel"`
	// Stage: sync, then wait to complete; CompleteAt is when the staged
	// job completes (zero: an admin completes it).
	Stage      bool      `json:"stage,omitempty"`
	CompleteAt time.Time `json:"complete_at,omitempty"`
	// Notify is whom to tell about the job; nil until the schedule step
	// is saved, meaning the configuration's defaults (notifyChoice).
	Notify *wizardNotify `json:"notify,omitempty"`
	// Rejected are the entries the last import did not add, for download.
	Rejected []rejectedRow `json:"rejected,omitempty"`
	// Checked is the last complete preflight (wizard_checked.go).
	Checked *wizardChecked `json:"checked,omitempty"`
}

// wizardNotify is the schedule step's "Notify" choice.
type wizardNotify struct {
	Emails  []string `json:"emails,omitempty"`
	Webhook bool     `json:"webhook,omitempty"`
}

// notifyChoice is the wizard's notify choice, or the configuration's
// defaults before the admin made one, limited to what is configured.
func (s *Server) notifyChoice(st wizardState) wizardNotify {
	n := s.Config.Notify
	c := wizardNotify{Emails: n.DefaultRecipients, Webhook: n.DefaultWebhook}
	if st.Notify != nil {
		c = *st.Notify
	}
	if n.SMTP == nil {
		c.Emails = nil
	}
	if len(n.Webhooks) == 0 {
		c.Webhook = false
	}
	return c
}

// wizardUser is a selected user with the server it lived on when selected;
// the target step decides eligibility from it and the preflight checks
// again.
type wizardUser struct {
	UID    string `json:"uid"`
	Name   string `json:"name,omitempty"`
	Source string `json:"source,omitempty"` // registered server name; "" if unknown
}

func newWizardState() wizardState {
	return wizardState{Policy: model.PolicyAbandon, MaxBad: wizardDefaultMaxBad, Parallel: wizardDefaultPar}
}

// UIDs returns the selected uids in order.
func (st wizardState) UIDs() []string {
	uids := make([]string, len(st.Users))
	for i, u := range st.Users {
		uids[i] = u.UID
	}
	return uids
}

// has reports whether uid is selected; uids compare ignoring case, as in LDAP.
func (st wizardState) has(uid string) bool {
	for _, u := range st.Users {
		if strings.EqualFold(u.UID, uid) {
			return true
		}
	}
	return false
}

// add appends users not yet selected, up to the cap, and returns how many
// were added and how many did not fit.
func (st *wizardState) add(users ...wizardUser) (added, over int) {
	for _, u := range users {
		if st.has(u.UID) {
			continue
		}
		if len(st.Users) >= wizardMaxUsers {
			over++
			continue
		}
		st.Users = append(st.Users, u)
		added++
	}
	return added, over
}

func (st *wizardState) remove(uid string) {
	out := st.Users[:0]
	for _, u := range st.Users {
		if !strings.EqualFold(u.UID, uid) {
			out = append(out, u)
		}
	}
	st.Users = out
}

// loadWizard returns the session's wizard state, or a fresh one.
func (s *Server) loadWizard(r *http.Request) (wizardState, error) {
	sess, _ := sessionFrom(r.Context())
	data, err := s.DB.WizardState(r.Context(), sess.ID)
	if err != nil {
		return wizardState{}, fmt.Errorf("load wizard state: %w", err)
	}
	st := newWizardState()
	if data == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(data), &st); err != nil {
		// A state from an older version is not worth an error page: the
		// admin starts over.
		s.logger().Warn("wizard state unreadable, starting over", "user", sess.UID, "err", err)
		return newWizardState(), nil
	}
	return st, nil
}

func (s *Server) saveWizard(r *http.Request, st wizardState) error {
	sess, _ := sessionFrom(r.Context())
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode wizard state: %w", err)
	}
	if err := s.DB.SaveWizardState(r.Context(), sess.ID, string(data)); err != nil {
		return fmt.Errorf("save wizard state: %w", err)
	}
	return nil
}

// clearWizard forgets the session's choices.
func (s *Server) clearWizard(r *http.Request) error {
	sess, _ := sessionFrom(r.Context())
	if err := s.DB.SaveWizardState(r.Context(), sess.ID, ""); err != nil {
		return fmt.Errorf("clear wizard state: %w", err)
	}
	return nil
}

// wizardGuard sends the admin to the first step that still needs a choice
// before step (2 target .. 5 summary); it returns false when it redirected.
func wizardGuard(w http.ResponseWriter, r *http.Request, st wizardState, step int) bool {
	switch {
	case step > 1 && len(st.Users) == 0:
		redirectFlash(w, r, "/wizard/users", "Select at least one user first.")
		return false
	case step > 2 && st.Target == "":
		redirectFlash(w, r, "/wizard/target", "Choose a target server first.")
		return false
	}
	return true
}
