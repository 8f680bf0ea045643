package handlers

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/movewizard/movewizard/web"
)

// wizardAddChecked adds the checked search results. The uids come from the
// browser, so each is looked up again rather than trusted.
func (s *Server) wizardAddChecked(w http.ResponseWriter, r *http.Request, st wizardState, f usersForm, back func(string)) {
	uids := r.PostForm["uid"]
	if len(uids) == 0 {
		f.errs = web.FieldErrors{"results": "Check at least one user to add, or select all matching."}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	found, err := s.lookupUsers(r.Context(), uids)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var add []wizardUser
	var problems []string
	for _, l := range found {
		if !l.found {
			problems = append(problems, "no user "+echo(l.uid)+" in the directory")
			continue
		}
		u, reason := s.selectable(l.user)
		if reason != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", l.uid, reason))
			continue
		}
		add = append(add, u)
	}
	added, over := st.add(add...)
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(problems) > 0 {
		if added > 0 || over > 0 {
			f.flash = addedFlash(added, over)
		}
		f.errs = web.FieldErrors{"results": "Not added: " + listSome(problems) + "."}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	back(addedFlash(added, over))
}

// wizardAddMatching adds every selectable user the search matches, up to
// the cap, not only the page shown.
func (s *Server) wizardAddMatching(w http.ResponseWriter, r *http.Request, st wizardState, f usersForm, back func(string)) {
	users, err := s.searchUsers(r, f.search, &f.errs)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(f.errs) > 0 {
		s.renderWizardUsers(w, r, st, f)
		return
	}
	truncated := len(users) > wizardMaxUsers
	users = users[:min(len(users), wizardMaxUsers)]
	var add []wizardUser
	skipped := 0
	for _, u := range users {
		sel, reason := s.selectable(u)
		if reason != "" {
			skipped++
			continue
		}
		add = append(add, sel)
	}
	added, over := st.add(add...)
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	msg := addedFlash(added, over)
	if skipped > 0 {
		msg += fmt.Sprintf(" %d matching users live on no registered server and were left out.", skipped)
	}
	if truncated {
		msg += fmt.Sprintf(" More than %d users match; only the first %d were considered.", wizardMaxUsers, wizardMaxUsers)
	}
	back(msg)
}

// listSome joins at most 20 items and says how many more there are, so
// that a list of thousands of bad rows does not become the page.
func listSome(items []string) string {
	const most = 20
	if len(items) <= most {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:most], "; ") + fmt.Sprintf("; and %d more", len(items)-most)
}
