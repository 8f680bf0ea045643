package handlers

import (
	"net/http"
	"strconv"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// wizardPolicy is step 3: the error policy and whether to keep the source.
func (s *Server) wizardPolicy(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 3) {
		return
	}
	f := web.WizardPolicyForm{Policy: string(st.Policy), MaxBad: strconv.Itoa(st.MaxBad), Source: "remove"}
	if st.KeepSource {
		f.Source = "keep"
	}
	s.render(w, r, http.StatusOK, web.WizardPolicyPage(s.page(r, "New move: error policy", "wizard"), f))
}

func (s *Server) wizardPolicySave(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 3) {
		return
	}
	f := web.WizardPolicyForm{Policy: r.PostFormValue("policy"), MaxBad: r.PostFormValue("max_bad"),
		Source: r.PostFormValue("source")}
	maxBad := f.Validate(wizardMaxBad)
	if f.HasError() {
		s.render(w, r, http.StatusUnprocessableEntity, web.WizardPolicyPage(s.page(r, "New move: error policy", "wizard"), f))
		return
	}
	st.Policy, st.KeepSource = model.PolicyAbandon, f.Source == "keep"
	if f.Policy == "skip" {
		st.Policy, st.MaxBad = model.PolicySkip, maxBad
	}
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/wizard/schedule", http.StatusSeeOther)
}
