package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/web"
)

// wizardTarget is step 2: the registered servers as targets.
func (s *Server) wizardTarget(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 2) {
		return
	}
	s.renderWizardTarget(w, r, st, st.Target, nil)
}

func (s *Server) renderWizardTarget(w http.ResponseWriter, r *http.Request, st wizardState, chosen string, errs web.FieldErrors) {
	v := web.WizardTarget{Selected: len(st.Users), Errors: errs}
	for _, srv := range s.Config.Servers {
		o := s.targetOption(st, srv)
		o.Checked = o.Eligible && srv.Name == chosen
		v.Options = append(v.Options, o)
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, status, web.WizardTargetPage(s.page(r, "New move: target server", "wizard"), v))
}

// wizardTargetSave records the target if some selected user can move there.
func (s *Server) wizardTargetSave(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !wizardGuard(w, r, st, 2) {
		return
	}
	name := r.PostFormValue("target")
	srv, ok := s.Config.Server(name)
	switch {
	case name == "":
		s.renderWizardTarget(w, r, st, "", web.FieldErrors{"target": "Choose a target server."})
		return
	case !ok:
		s.renderWizardTarget(w, r, st, "", web.FieldErrors{"target": fmt.Sprintf("No registered server %s.", echo(name))})
		return
	}
	if o := s.targetOption(st, srv); !o.Eligible {
		s.renderWizardTarget(w, r, st, "", web.FieldErrors{"target": fmt.Sprintf("%s cannot be the target: %s.", name, o.Reason)})
		return
	}
	st.Target = name
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	http.Redirect(w, r, "/wizard/policy", http.StatusSeeOther)
}

// targetOption says whether dst can take the selected users: eligible
// when at least one of them may move there (config.CanMove), with how many
// will be skipped and why. Each user's home is the one of the server found
// at selection; the preflight on the summary page asks the directory again.
func (s *Server) targetOption(st wizardState, dst config.Server) web.WizardTargetOption {
	o := web.WizardTargetOption{Name: dst.Name, Address: dst.Address, Group: dst.Group}
	var same, unregistered, refused int
	refusal := ""
	for _, u := range st.Users {
		src, _ := s.Config.Server(u.Source) // no longer registered: no home
		e := s.Config.CanMove(src.Home, dst.Name)
		switch e.Verdict {
		case config.Movable:
		case config.AlreadyThere:
			same++
		case config.NoHome, config.UnknownHome:
			unregistered++
		default:
			refused++
			refusal = e.Reason()
		}
	}
	total := len(st.Users)
	o.Skipped = same + unregistered + refused
	o.Eligible = total > 0 && o.Skipped < total
	var why []string
	if same == total && total > 0 {
		why = append(why, "it is the current server of every selected user")
	} else if same > 0 {
		why = append(why, fmt.Sprintf("%d already live on %s", same, dst.Name))
	}
	if refused > 0 {
		why = append(why, fmt.Sprintf("%d cannot move there (%s)", refused, refusal))
	}
	if unregistered > 0 {
		why = append(why, fmt.Sprintf("%d live on no registered server", unregistered))
	}
	if o.Eligible {
		o.SkipReason = strings.Join(why, "; ")
	} else {
		o.Reason = strings.Join(why, "; ")
	}
	return o
}
