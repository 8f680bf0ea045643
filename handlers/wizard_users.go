package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/web"
)

// wizardPageSize is how many search results a page shows.
const wizardPageSize = 50

// wizardUsers is step 1: search, results, selection.
func (s *Server) wizardUsers(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	sel, _ := strconv.Atoi(q.Get("sel"))
	s.renderWizardUsers(w, r, st, usersForm{search: searchFrom(q), page: page, selPage: sel})
}

// usersForm is what step 1 shows besides the state: the search, the page
// of results and of the selection, and after a failed import the pasted
// text, a flash and the errors.
type usersForm struct {
	search  web.WizardSearch
	page    int
	selPage int
	paste   string
	flash   string
	errs    web.FieldErrors
}

func searchFrom(v url.Values) web.WizardSearch {
	return web.WizardSearch{Text: strings.TrimSpace(v.Get("q")), Group: strings.TrimSpace(v.Get("group")),
		Server: v.Get("server")}
}

// renderWizardUsers renders step 1 with the search's results; errs (and
// search problems found now) make it a 422.
func (s *Server) renderWizardUsers(w http.ResponseWriter, r *http.Request, st wizardState, f usersForm) {
	v := web.WizardUsers{Search: f.search, Page: max(f.page, 1), Paste: f.paste, Errors: f.errs}
	for _, srv := range s.Config.Servers {
		v.Servers = append(v.Servers, srv.Name)
	}
	users, err := s.searchUsers(r, f.search, &v.Errors)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v.Truncated = len(users) > wizardMaxUsers
	users = users[:min(len(users), wizardMaxUsers)]
	v.Matching = len(users)
	v.Pages = max((len(users)+wizardPageSize-1)/wizardPageSize, 1)
	v.Page = min(v.Page, v.Pages)
	for _, u := range users[(v.Page-1)*wizardPageSize : min(v.Page*wizardPageSize, len(users))] {
		row := web.WizardUserRow{UID: u.UID, Name: u.Name, Mail: u.Mail, Server: u.Home, Selected: st.has(u.UID)}
		sel, reason := s.selectable(u)
		row.Selectable, row.Reason = reason == "", reason
		if row.Selectable {
			row.Server = sel.Source
		}
		v.Results = append(v.Results, row)
	}
	v.Selected, v.Rejected = len(st.Users), len(st.Rejected)
	v.SelPages = max((len(st.Users)+wizardPageSize-1)/wizardPageSize, 1)
	v.SelPage = min(max(f.selPage, 1), v.SelPages)
	for _, u := range st.Users[(v.SelPage-1)*wizardPageSize : min(v.SelPage*wizardPageSize, len(st.Users))] {
		v.Selection = append(v.Selection, web.WizardSelected{UID: u.UID, Name: u.Name, Source: u.Source})
	}
	status := http.StatusOK
	if v.HasError() {
		status = http.StatusUnprocessableEntity
	}
	p := s.page(r, "New move: users", "wizard")
	if f.flash != "" {
		p.Flash = f.flash
	}
	s.render(w, r, status, web.WizardUsersPage(p, v))
}

// searchUsers runs the search, up to one more than the cap so that the page
// can say it was cut. An unknown group or server is the field's error.
func (s *Server) searchUsers(r *http.Request, search web.WizardSearch, errs *web.FieldErrors) ([]directory.User, error) {
	q := directory.UserQuery{Text: search.Text, Group: search.Group, Limit: wizardMaxUsers + 1}
	if search.Server != "" {
		srv, ok := s.Config.Server(search.Server)
		if !ok {
			errs.Set("server", fmt.Sprintf("No registered server %s.", echo(search.Server)))
			return nil, nil
		}
		q.Home = srv.Home
	}
	users, err := s.Dir.Search(r.Context(), q)
	if errors.Is(err, directory.ErrNotFound) && search.Group != "" {
		errs.Set("group", fmt.Sprintf("No group %s in the directory.", echo(search.Group)))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	return users, nil
}

// wizardUsersSave handles the step's buttons: add checked users, add all
// matching, import a list, remove one, next.
func (s *Server) wizardUsersSave(w http.ResponseWriter, r *http.Request) {
	// limitBodies parsed the form (a CSV upload up to uploadLimit) and removes
	// its temporary files after this handler.
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	search := searchFrom(r.PostForm)
	page, _ := strconv.Atoi(r.PostFormValue("page"))
	selPage, _ := strconv.Atoi(r.PostFormValue("sel"))
	back := func(flash string) {
		q := search.Query()
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if selPage > 1 {
			q.Set("sel", strconv.Itoa(selPage))
		}
		path := "/wizard/users?" + q.Encode()
		if flash != "" {
			redirectFlash(w, r, path, flash)
			return
		}
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
	switch r.PostFormValue("action") {
	case "add":
		s.wizardAddChecked(w, r, st, usersForm{search: search, page: page}, back)
	case "add_all":
		s.wizardAddMatching(w, r, st, usersForm{search: search, page: page}, back)
	case "import":
		s.wizardImport(w, r, st, usersForm{search: search, page: page}, back)
	case "remove":
		st.remove(r.PostFormValue("remove"))
		if err := s.saveWizard(r, st); err != nil {
			s.renderError(w, r, err)
			return
		}
		back("")
	case "remove_all":
		n := len(st.Users)
		st.Users = nil
		if err := s.saveWizard(r, st); err != nil {
			s.renderError(w, r, err)
			return
		}
		selPage = 0
		back("Removed " + plural(n, "user", "users") + " from the selection.")
	case "next":
		if len(st.Users) == 0 {
			s.renderWizardUsers(w, r, st, usersForm{search: search, page: page,
				errs: web.FieldErrors{"selection": "Select at least one user."}})
			return
		}
		http.Redirect(w, r, "/wizard/target", http.StatusSeeOther)
	default:
		s.renderError(w, r, invalidf("Unknown action."))
	}
}

// addedFlash says what an addition did.
func addedFlash(added, over int) string {
	msg := "Added " + plural(added, "user", "users") + "."
	if over > 0 {
		msg += fmt.Sprintf(" %d more did not fit: a move takes at most %d users.", over, wizardMaxUsers)
	}
	return msg
}
