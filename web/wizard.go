package web

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/a-h/templ"
)

// FieldErrors maps a form field's name to the sentence that says what is
// wrong with it.
type FieldErrors map[string]string

// Has reports whether field has an error.
func (e FieldErrors) Has(field string) bool { return e[field] != "" }

// Get returns field's error, or "".
func (e FieldErrors) Get(field string) string { return e[field] }

// Set records field's error, creating the map if needed.
func (e *FieldErrors) Set(field, msg string) {
	if *e == nil {
		*e = FieldErrors{}
	}
	(*e)[field] = msg
}

// wizardStepNames are the wizard's steps, in order, with their pages.
var wizardStepNames = []struct{ Label, Href string }{
	{"1 Users", "/wizard/users"},
	{"2 Target", "/wizard/target"},
	{"3 Error policy", "/wizard/policy"},
	{"4 Schedule", "/wizard/schedule"},
	{"5 Summary", "/wizard/summary"},
}

// WizardSearch is the users step's search: text (uid, name, mail), group
// cn, and current server name.
type WizardSearch struct {
	Text, Group, Server string
}

// Query returns the search as URL query values (without the page).
func (s WizardSearch) Query() url.Values {
	q := url.Values{}
	if s.Text != "" {
		q.Set("q", s.Text)
	}
	if s.Group != "" {
		q.Set("group", s.Group)
	}
	if s.Server != "" {
		q.Set("server", s.Server)
	}
	return q
}

// WizardUsers is the users step's model.
type WizardUsers struct {
	Search    WizardSearch
	Servers   []string // registered server names, for the search's select
	Results   []WizardUserRow
	Matching  int  // users matching the search (up to the cap)
	Truncated bool // more than the cap match
	Page      int  // 1-based
	Pages     int
	// Selection is one page of the selected users (SelPage of SelPages);
	// Selected counts them all.
	Selection         []WizardSelected
	Selected          int
	SelPage, SelPages int
	// Rejected counts the entries the last import did not add; they can be
	// downloaded.
	Rejected int
	Paste    string // the pasted list, kept when it had errors
	Errors   FieldErrors
}

// SelPageHref links to page n of the selection, keeping the search.
func (v WizardUsers) SelPageHref(n int) templ.SafeURL {
	q := v.Search.Query()
	if v.Page > 1 {
		q.Set("page", strconv.Itoa(v.Page))
	}
	q.Set("sel", strconv.Itoa(n))
	return templ.SafeURL("/wizard/users?" + q.Encode())
}

// HasError reports whether any field has an error.
func (v WizardUsers) HasError() bool { return len(v.Errors) > 0 }

// PageHref links to page n of the same search.
func (v WizardUsers) PageHref(n int) templ.SafeURL {
	q := v.Search.Query()
	q.Set("page", strconv.Itoa(n))
	return templ.SafeURL("/wizard/users?" + q.Encode())
}

// WizardUserRow is one search result.
type WizardUserRow struct {
	UID, Name, Mail string
	Server          string // registered server name, or the raw home value
	Selectable      bool
	Reason          string // why not selectable
	Selected        bool   // already in the selection
}

// WizardSelected is one selected user.
type WizardSelected struct {
	UID, Name, Source string
}

// WizardTarget is the target step's model.
type WizardTarget struct {
	Selected int // selected users
	Options  []WizardTargetOption
	Errors   FieldErrors
}

// WizardTargetOption is one registered server as a possible target.
type WizardTargetOption struct {
	Name, Address, Group string
	Eligible             bool
	Reason               string // why not eligible at all
	Skipped              int    // selected users that will not move there
	SkipReason           string // why those are skipped
	Checked              bool
}

// WizardPolicyForm is the policy step's form, as entered.
type WizardPolicyForm struct {
	Policy string // as entered: "abandon" or "skip"
	MaxBad string // bad items allowed per mailbox with "skip"
	Source string // "remove" or "keep"
	Errors FieldErrors
}

// HasError reports whether any field has an error.
func (f WizardPolicyForm) HasError() bool { return len(f.Errors) > 0 }

// Validate checks the form and returns the maximum number of bad items
// (0 with "abandon").
func (f *WizardPolicyForm) Validate(maxBad int) int {
	f.Errors = nil
	switch f.Policy {
	case "abandon", "skip":
	default:
		f.Errors.Set("policy", "Choose what to do with items that cannot be read.")
	}
	n := 0
	if f.Policy == "skip" {
		v, err := strconv.Atoi(f.MaxBad)
		if err != nil || v < 0 || v > maxBad {
			f.Errors.Set("max_bad", fmt.Sprintf("Enter a whole number from 0 to %d.", maxBad))
		}
		n = v
	}
	if f.Source != "remove" && f.Source != "keep" {
		f.Errors.Set("source", "Choose whether to remove or keep the source content.")
	}
	return n
}
