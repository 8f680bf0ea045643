package handlers

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/movewizard/movewizard/web"
)

// entryRE is what a uid or a mail address may look like; anything else in
// a list is a typo or a stray column, reported rather than looked up.
var entryRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,255}$`)

// importEntry is one uid or mail address of a pasted list or an uploaded
// CSV; line is its CSV line number, 0 for pasted ones.
type importEntry struct {
	key  string
	line int
}

// rejectedRow is an entry of an import that was not added, with the
// reason: the admin downloads them (/wizard/users/rejected.csv), fixes
// them and imports them again.
type rejectedRow struct {
	Line   int    `json:"line,omitempty"` // CSV line; 0 for a pasted entry
	Entry  string `json:"entry"`          // as given, cut to rejectedEntryMax bytes
	Reason string `json:"reason"`
}

// Bounds of what an import keeps of its rejected rows.
const (
	rejectedMax      = 2000
	rejectedEntryMax = 256
)

// reason is the row as the page lists it.
func (b rejectedRow) String() string {
	if b.Line > 0 {
		return fmt.Sprintf("line %d: %s", b.Line, b.Reason)
	}
	return b.Reason
}

// wizardImport adds the users of a pasted list and of an uploaded CSV,
// each named by uid or mail address. Nothing is lost: valid entries are
// added even when others are bad, and every bad one is named (with its CSV
// line number) and kept for download. Repeated entries count once; a list
// of more than wizardMaxUsers distinct entries is refused before anything
// is looked up, and the rest are looked up in one LookupMany (one LDAP
// connection).
func (s *Server) wizardImport(w http.ResponseWriter, r *http.Request, st wizardState, f usersForm, back func(string)) {
	f.paste = r.PostFormValue("paste")
	entries, bad := splitPasted(f.paste)
	fromCSV := false
	if r.MultipartForm != nil && len(r.MultipartForm.File["csv"]) > 0 {
		fromCSV = true
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
		more, csvBad, problem := parseUsersCSV(data)
		if problem != "" {
			f.errs = web.FieldErrors{"csv": problem}
			s.renderWizardUsers(w, r, st, f)
			return
		}
		entries, bad = append(entries, more...), append(bad, csvBad...)
	}
	if len(entries) == 0 && len(bad) == 0 {
		f.errs = web.FieldErrors{"paste": "Paste some uids or mail addresses, or choose a CSV file."}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	given := len(entries)
	entries = uniqueEntries(entries)
	// The cap comes before any look-up: a list too long for one move is
	// refused whole, without asking the directory about any of it.
	if len(entries) > wizardMaxUsers {
		field := "paste"
		if fromCSV {
			field = "csv"
		}
		msg := fmt.Sprintf("Too many entries: %d given", len(entries))
		if given > len(entries) {
			msg += fmt.Sprintf(" (%d in all, %d of them repeats)", given, given-len(entries))
		}
		msg += fmt.Sprintf("; a move takes at most %d users. Nothing was looked up or added: split the list.", wizardMaxUsers)
		f.errs = web.FieldErrors{field: msg}
		s.renderWizardUsers(w, r, st, f)
		return
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = e.key
	}
	found, err := s.Dir.LookupMany(r.Context(), keys)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var add []wizardUser
	for _, e := range entries {
		u, ok := found[e.key]
		if !ok {
			bad = append(bad, rejectedRow{Line: e.line, Entry: e.key, Reason: "no user " + echo(e.key) + " in the directory"})
			continue
		}
		sel, reason := s.selectable(u)
		if reason != "" {
			bad = append(bad, rejectedRow{Line: e.line, Entry: e.key, Reason: fmt.Sprintf("%s: %s", u.UID, reason)})
			continue
		}
		add = append(add, sel)
	}
	added, over := st.add(add...)
	// In input order: pasted entries first, then by CSV line.
	slices.SortStableFunc(bad, func(x, y rejectedRow) int { return cmp.Compare(x.Line, y.Line) })
	st.Rejected = keepRejected(bad)
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(bad) == 0 {
		back(addedFlash(added, over))
		return
	}
	if added > 0 || over > 0 {
		f.flash = addedFlash(added, over)
	}
	var pasteBad, csvBad []string
	for _, b := range bad {
		if b.Line > 0 {
			csvBad = append(csvBad, b.String())
		} else {
			pasteBad = append(pasteBad, b.String())
		}
	}
	if len(pasteBad) > 0 {
		f.errs.Set("paste", "Not added: "+listSome(pasteBad)+".")
	}
	if len(csvBad) > 0 {
		f.errs.Set("csv", "Not added: "+listSome(csvBad)+".")
	}
	s.renderWizardUsers(w, r, st, f)
}

// keepRejected bounds what the wizard state keeps of an import's rejected
// rows: the first rejectedMax, each entry cut to rejectedEntryMax bytes.
func keepRejected(bad []rejectedRow) []rejectedRow {
	if len(bad) == 0 {
		return nil
	}
	out := make([]rejectedRow, 0, min(len(bad), rejectedMax))
	for _, b := range bad[:min(len(bad), rejectedMax)] {
		if len(b.Entry) > rejectedEntryMax {
			b.Entry = strings.ToValidUTF8(b.Entry[:rejectedEntryMax], "")
		}
		out = append(out, b)
	}
	return out
}

// wizardRejectedCSV downloads the rejected rows of the session's last
// import: line, entry and reason, to fix and import again.
func (s *Server) wizardRejectedCSV(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write([]string{"line", "entry", "reason"})
	for _, b := range st.Rejected {
		line := ""
		if b.Line > 0 {
			line = strconv.Itoa(b.Line)
		}
		cw.Write([]string{line, csvSafe(b.Entry), csvSafe(b.Reason)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.renderError(w, r, fmt.Errorf("write rejected rows: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="rejected.csv"`)
	w.Write(buf.Bytes())
}

// uniqueEntries drops repeated entries (compared ignoring case, as in
// LDAP), keeping the first, so that a list is capped, looked up and
// reported by its distinct entries.
func uniqueEntries(entries []importEntry) []importEntry {
	seen := make(map[string]bool, len(entries))
	out := entries[:0:0]
	for _, e := range entries {
		key := strings.ToLower(e.key)
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
func splitPasted(text string) (entries []importEntry, bad []rejectedRow) {
	var kept []string
	for _, line := range strings.Split(text, "\n") {
		if !isComment(line) {
			kept = append(kept, line)
		}
	}
	for _, tok := range strings.FieldsFunc(strings.Join(kept, "\n"), func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}) {
		if !entryRE.MatchString(tok) {
			bad = append(bad, rejectedRow{Entry: tok, Reason: echo(tok) + " is not a uid or mail address"})
			continue
		}
		entries = append(entries, importEntry{key: tok})
	}
	return entries, bad
}

// csvHeaders are the column names a header row may use, best first: the
// entries are read from the first column named one of these.
var csvHeaders = []string{"uid", "mail", "email", "e-mail", "mail address", "username", "user", "login"}

// parseUsersCSV reads one uid or mail address per line: from the column
// named in a header row (uid, mail, email, ...), or the first column
// without one. Fields are separated by commas, semicolons (as spreadsheets
// write in many locales) or tabs, whichever the first line uses most; blank
// and comment lines (starting with '#') are skipped. Lines are parsed one
// by one so that a bad line is reported with its number and does not hide
// the lines after it. A file that is not text is refused whole (problem).
func parseUsersCSV(data []byte) (entries []importEntry, bad []rejectedRow, problem string) {
	if !looksLikeText(data) {
		return nil, nil, "The file is not a text/CSV file (it holds binary data). Export the list as CSV and upload that."
	}
	text := strings.TrimPrefix(string(data), "\ufeff") // a BOM, as spreadsheets write
	comma, col, first := ',', 0, true
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || isComment(line) {
			continue
		}
		if first {
			comma = csvDelimiter(line)
		}
		rd := csv.NewReader(strings.NewReader(line))
		rd.Comma, rd.FieldsPerRecord = comma, -1
		fields, err := rd.Read()
		if err != nil {
			bad = append(bad, rejectedRow{Line: n, Entry: line, Reason: "not valid CSV"})
			first = false
			continue
		}
		if first {
			first = false
			if c, ok := headerColumn(fields); ok {
				col = c
				continue
			}
		}
		if col >= len(fields) {
			bad = append(bad, rejectedRow{Line: n, Entry: line, Reason: fmt.Sprintf("the line has no column %d", col+1)})
			continue
		}
		key := strings.TrimSpace(fields[col])
		switch {
		case key == "":
			bad = append(bad, rejectedRow{Line: n, Entry: line, Reason: fmt.Sprintf("column %d is empty", col+1)})
		case !entryRE.MatchString(key):
			bad = append(bad, rejectedRow{Line: n, Entry: key, Reason: echo(key) + " is not a uid or mail address"})
		default:
			entries = append(entries, importEntry{key: key, line: n})
		}
	}
	return entries, bad, ""
}

// csvDelimiter is the separator a CSV's first line uses most: comma,
// semicolon or tab (comma when it has none).
func csvDelimiter(line string) rune {
	best, most := ',', 0
	for _, c := range []rune{',', ';', '\t'} {
		if n := strings.Count(line, string(c)); n > most {
			best, most = c, n
		}
	}
	return best
}

// headerColumn reports whether fields are a header row, and which column
// holds the entries: the first named by the best of csvHeaders.
func headerColumn(fields []string) (int, bool) {
	for _, name := range csvHeaders {
		for i, f := range fields {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return i, true
			}
		}
	}
	return 0, false
}

// looksLikeText reports whether an upload is text: no NUL byte, and
// almost no other control characters, in its first 64 KiB. A spreadsheet
// saved as .xlsx, an image or an archive fails this.
func looksLikeText(data []byte) bool {
	head := data[:min(len(data), 64<<10)]
	control := 0
	for _, b := range head {
		switch {
		case b == 0:
			return false
		case b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f':
			control++
		}
	}
	return control*100 <= len(head)
}
