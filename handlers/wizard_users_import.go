package handlers

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/movewizard/movewizard/web"
)

// uidRE is what a uid may look like; anything else in a list is a typo or
// a stray column, reported rather than looked up.
var uidRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}$`)

// importEntry is one uid of a pasted list or an uploaded CSV; line is its
// CSV line number, 0 for pasted ones.
type importEntry struct {
	uid  string
	line int
}

// wizardImport adds the users of a pasted list and of an uploaded CSV.
// Nothing is lost: valid entries are added even when others are bad, and
// every bad one is named (with its CSV line number). Repeated uids count
// once; a list of more than wizardMaxUsers distinct uids is refused before
// anything is looked up, and the rest are looked up in one LookupMany (one
// LDAP connection).
func (s *Server) wizardImport(w http.ResponseWriter, r *http.Request, st wizardState, f usersForm, back func(string)) {
	f.paste = r.PostFormValue("paste")
	entries, pasteBad := splitPasted(f.paste)
	var csvBad []string
	if r.MultipartForm != nil && len(r.MultipartForm.File["csv"]) > 0 {
		fh := r.MultipartForm.File["csv"][0]
		file, err := fh.Open()
		if err != nil {
			s.renderError(w, r, fmt.Errorf("open uploaded csv: %w", err))
			return
		}
		data, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			s.renderError(w, r, invalidf("The file could not be read."))
			return
		}
		more, bad := parseUIDsCSV(string(data))
		entries, csvBad = append(entries, more...), bad
	}
	if len(entries) == 0 && len(pasteBad) == 0 && len(csvBad) == 0 {
		f.errs = web.FieldErrors{"paste": "Paste some uids or choose a CSV file."}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	given := len(entries)
	entries = uniqueEntries(entries)
	// The cap comes before any look-up: a list too long for one move is
	// refused whole, without asking the directory about any of it.
	if len(entries) > wizardMaxUsers {
		field := "paste"
		if entries[0].line > 0 {
			field = "csv"
		}
		msg := fmt.Sprintf("Too many uids: %d given", len(entries))
		if given > len(entries) {
			msg += fmt.Sprintf(" (%d entries, %d of them repeats)", given, given-len(entries))
		}
		msg += fmt.Sprintf("; a move takes at most %d users. Nothing was looked up or added: split the list.", wizardMaxUsers)
		f.errs = web.FieldErrors{field: msg}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	uids := make([]string, len(entries))
	for i, e := range entries {
		uids[i] = e.uid
	}
	found, err := s.Dir.LookupMany(r.Context(), uids)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var add []wizardUser
	for _, e := range entries {
		problem := ""
		if u, ok := found[e.uid]; !ok {
			problem = fmt.Sprintf("no user %q in the directory", e.uid)
		} else if sel, reason := s.selectable(u); reason != "" {
			problem = fmt.Sprintf("%s: %s", e.uid, reason)
		} else {
			add = append(add, sel)
		}
		switch {
		case problem == "":
		case e.line > 0:
			csvBad = append(csvBad, fmt.Sprintf("line %d: %s", e.line, problem))
		default:
			pasteBad = append(pasteBad, problem)
		}
	}
	added, over := st.add(add...)
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(pasteBad) == 0 && len(csvBad) == 0 {
		back(addedFlash(added, over))
		return
	}
	f.flash = addedFlash(added, over)
	if len(pasteBad) > 0 {
		f.errs.Set("paste", "Not added: "+listSome(pasteBad)+".")
	}
	if len(csvBad) > 0 {
		f.errs.Set("csv", "Not added: "+listSome(csvBad)+".")
	}
	s.renderWizardUsers(w, r, st, f)
}

// uniqueEntries drops repeated uids (compared ignoring case, as in LDAP),
// keeping the first, so that a list is capped, looked up and reported by
// its distinct uids.
func uniqueEntries(entries []importEntry) []importEntry {
	seen := make(map[string]bool, len(entries))
	out := entries[:0:0]
	for _, e := range entries {
		key := strings.ToLower(e.uid)
		if !seen[key] {
			seen[key] = true
			out = append(out, e)
		}
	}
	return out
}

// isComment reports whether a line is a comment: its first non-blank
// character is '#', which no uid starts with.
func isComment(line string) bool {
	return strings.HasPrefix(strings.TrimSpace(line), "#")
}

// splitPasted splits a pasted list at new lines, commas, semicolons and
// spaces; blank lines and comment lines (starting with '#') are skipped.
func splitPasted(text string) (entries []importEntry, bad []string) {
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		if !isComment(line) {
			kept = append(kept, line)
		}
	}
	for _, tok := range strings.FieldsFunc(strings.Join(kept, "\n"), func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}) {
		if !uidRE.MatchString(tok) {
			bad = append(bad, fmt.Sprintf("%q is not a uid", tok))
			continue
		}
		entries = append(entries, importEntry{uid: tok})
	}
	return entries, bad
}

// parseUIDsCSV reads the first column of each line; a first line "uid" is
// a header, and blank and comment lines (starting with '#') are skipped.
// Lines are parsed one by one so that a bad line is reported with its
// number and does not hide the lines after it.
func parseUIDsCSV(data string) (entries []importEntry, bad []string) {
	data = strings.TrimPrefix(data, "\ufeff") // a BOM, as spreadsheets write
	first := true
	for i, line := range strings.Split(data, "\n") {
		n := i + 1
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || isComment(line) {
			continue
		}
		rd := csv.NewReader(strings.NewReader(line))
		rd.FieldsPerRecord = -1
		fields, err := rd.Read()
		if err != nil {
			bad = append(bad, fmt.Sprintf("line %d: not valid CSV", n))
			first = false
			continue
		}
		uid := strings.TrimSpace(fields[0])
		if first && strings.EqualFold(uid, "uid") {
			first = false
			continue
		}
		first = false
		switch {
		case uid == "":
			bad = append(bad, fmt.Sprintf("line %d: the first column is empty", n))
		case !uidRE.MatchString(uid):
			bad = append(bad, fmt.Sprintf("line %d: %q is not a uid", n, uid))
		default:
			entries = append(entries, importEntry{uid: uid, line: n})
		}
	}
	return entries, bad
}
