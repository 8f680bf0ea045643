package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// countingDir counts the look-ups the pages make.
type countingDir struct {
	handlers.Directory
	lookups, many, manyUIDs atomic.Int64
}

func (d *countingDir) Lookup(ctx context.Context, uid string) (directory.User, error) {
	d.lookups.Add(1)
	return d.Directory.Lookup(ctx, uid)
}

func (d *countingDir) LookupMany(ctx context.Context, uids []string) (map[string]directory.User, error) {
	d.many.Add(1)
	d.manyUIDs.Add(int64(len(uids)))
	return d.Directory.LookupMany(ctx, uids)
}

// importDir returns a directory of n-unknown users on the registered source server, and
// n uids of which the last `unknown` name nobody.
func importDir(n, unknown int) (*directory.Mem, []string) {
	var users []directory.User
	var uids []string
	for i := range n - unknown {
		uid := fmt.Sprintf("imp%04d", i)
		users = append(users, directory.User{DN: "uid=" + uid + ",ou=people,dc=example,dc=org", UID: uid, Name: uid, Home: testenv.SrcHome})
		uids = append(uids, uid)
	}
	for i := range unknown {
		uids = append(uids, fmt.Sprintf("nosuch%d", i))
	}
	return directory.NewMem(users...), uids
}

// csvPost uploads data as the import's CSV file.
func csvPost(t *testing.T, a *testApp, c *http.Client, data string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("action", "import")
	fw, _ := mw.CreateFormFile("csv", "users.csv")
	io.WriteString(fw, data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/wizard/users", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", a.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST CSV: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWizardImportBatched(t *testing.T) {
	a := newTestApp(t)
	mem, uids := importDir(2000, 3)
	dir := &countingDir{Directory: mem}
	a.srv.Dir = dir

	t.Run("2000 pasted, 3 unknown: one look-up", func(t *testing.T) {
		c := a.admin(t)
		dir.lookups.Store(0)
		dir.many.Store(0)
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {strings.Join(uids, "\n")}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "import", body, `data-testid="error-paste"`, "Added 1997 users.",
			"Not added: no user &#34;nosuch0&#34; in the directory; no user &#34;nosuch1&#34; in the directory; no user &#34;nosuch2&#34; in the directory.",
			`data-testid="selection-count">1997<`, `data-testid="selected-imp0049"`, `data-testid="selection-pages">page 1 of 40<`,
			`data-testid="rejected-csv">Download the 3 rejected entries (CSV)<`)
		wantNotContains(t, "import", body, `data-testid="selected-imp0050"`)
		if got := dir.many.Load(); got != 1 {
			t.Errorf("import made %d LookupMany calls, want 1", got)
		}
		if got := dir.lookups.Load(); got != 0 {
			t.Errorf("import made %d single Lookup calls, want 0", got)
		}
	})

	t.Run("CSV: line numbers, repeats, comments", func(t *testing.T) {
		c := a.admin(t)
		dir.many.Store(0)
		dir.manyUIDs.Store(0)
		csv := "uid\n# wave 1\nimp0001\n\nIMP0001\nnosuch0,x\n  # done\nimp0002\nnosuch0\n"
		resp, body := csvPost(t, a, c, csv)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422: %s", resp.StatusCode, body)
		}
		wantContains(t, "import", body, `data-testid="error-csv"`, "Added 2 users.",
			"Not added: line 6: no user &#34;nosuch0&#34; in the directory.", `data-testid="selection-count">2<`)
		wantNotContains(t, "import", body, "line 9", "line 2", "line 7", `data-testid="error-paste"`)
		if n, m := dir.many.Load(), dir.manyUIDs.Load(); n != 1 || m != 3 {
			t.Errorf("import made %d LookupMany calls for %d uids, want 1 for 3", n, m)
		}
	})

	t.Run("5001 pasted: refused before any look-up", func(t *testing.T) {
		c := a.admin(t)
		dir.lookups.Store(0)
		dir.many.Store(0)
		var list []string
		for i := range 5001 {
			list = append(list, fmt.Sprintf("imp%04d", i))
		}
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {strings.Join(list, "\n")}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "cap", body, `data-testid="error-paste"`,
			"Too many entries: 5001 given; a move takes at most 5000 users. Nothing was looked up or added: split the list.",
			`data-testid="selection-count">0<`)
		if n, m := dir.many.Load(), dir.lookups.Load(); n != 0 || m != 0 {
			t.Errorf("refused import made %d LookupMany and %d Lookup calls, want none", n, m)
		}
	})

	t.Run("5001 in CSV: refused, repeats counted", func(t *testing.T) {
		c := a.admin(t)
		dir.many.Store(0)
		var b strings.Builder
		for i := range 5001 {
			fmt.Fprintf(&b, "imp%04d\nimp%04d\n", i, i)
		}
		resp, body := csvPost(t, a, c, b.String())
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "cap", body, `data-testid="error-csv"`,
			"Too many entries: 5001 given (10002 in all, 5001 of them repeats); a move takes at most 5000 users.")
		if n := dir.many.Load(); n != 0 {
			t.Errorf("refused import made %d LookupMany calls, want none", n)
		}
	})

	t.Run("5000 plus repeats, blank and comment lines: not capped", func(t *testing.T) {
		c := a.admin(t)
		dir.many.Store(0)
		dir.manyUIDs.Store(0)
		var b strings.Builder
		b.WriteString("# the whole list\n\n")
		for i := range 5000 {
			fmt.Fprintf(&b, "imp%04d\n", i)
			if i%500 == 0 {
				fmt.Fprintf(&b, "IMP%04d\n\n# again\n", i)
			}
		}
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {b.String()}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "import", body, "Added 1997 users.", "no user &#34;imp1997&#34; in the directory", "and 2983 more")
		wantNotContains(t, "import", body, "Too many uids", "is not a uid")
		if n, m := dir.many.Load(), dir.manyUIDs.Load(); n != 1 || m != 5000 {
			t.Errorf("import made %d LookupMany calls for %d uids, want 1 for 5000", n, m)
		}
	})
}

// slapdBindLine matches slapd's stats line for a bind: every LDAP session binds first.
var slapdBindLine = regexp.MustCompile(`\bconn=(\d+) op=\d+ BIND dn=".*" method=`)

// slapdSessions returns how many connections have bound so far.
func slapdSessions(s *testserver.Slapd) int {
	return len(slapdBindLine.FindAllString(s.Log(), -1))
}

// TestWizardImportOneLDAPConnection imports 2,000 pasted uids against real OpenLDAP and
// counts the connections slapd saw.
func TestWizardImportOneLDAPConnection(t *testing.T) {
	const n = 2000
	var users []testserver.SlapdUser
	var uids []string
	for i := range n {
		uid := fmt.Sprintf("imp%04d", i)
		users = append(users, testserver.SlapdUser{UID: uid, Home: testenv.SrcHome})
		uids = append(uids, uid)
	}
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: users})
	a := newTestApp(t)
	a.srv.Dir = directory.NewLDAP(config.Directory{URL: s.URL, BindDN: s.AdminDN, BindPassword: s.AdminPassword,
		BaseDN: s.BaseDN, UserFilter: config.DefaultUserFilter, HomeAttribute: config.DefaultHomeAttribute})

	c := a.admin(t)
	before := slapdSessions(s)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {strings.Join(uids, "\n")}},
		"/wizard/users?flash=Added+2000+users.")
	got := slapdSessions(s) - before
	t.Logf("import of %d uids: %d LDAP connection(s)", n, got)
	if got != 1 {
		t.Errorf("import of %d uids made %d LDAP connections, want 1", n, got)
	}

	// With unknown uids the page is shown again, which runs its search on a second
	// connection; the look-ups still take one.
	c = a.admin(t)
	before = slapdSessions(s)
	resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"},
		"paste": {strings.Join(append(uids[:n-3:n-3], "nosuch0", "nosuch1", "nosuch2"), "\n")}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("import = %d, want 422", resp.StatusCode)
	}
	wantContains(t, "import", body, "Added 1997 users.", "no user &#34;nosuch0&#34; in the directory",
		"no user &#34;nosuch2&#34; in the directory", `data-testid="selection-count">1997<`)
	got = slapdSessions(s) - before
	t.Logf("import of %d uids, 3 unknown, page re-shown: %d LDAP connection(s)", n, got)
	if got != 2 {
		t.Errorf("import with unknown uids made %d LDAP connections, want 2 (look-ups, page search)", got)
	}
}
