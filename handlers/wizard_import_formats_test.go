package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// mailDir is a directory of n users imp0000.. with mail addresses
// first.N@example.org on the registered source server.
func mailDir(n int) *directory.Mem {
	var users []directory.User
	for i := range n {
		uid := fmt.Sprintf("imp%04d", i)
		users = append(users, directory.User{DN: "uid=" + uid + ",ou=people,dc=example,dc=org", UID: uid, Name: uid,
			Mail: fmt.Sprintf("first.%d@example.org", i), Home: testenv.SrcHome})
	}
	return directory.NewMem(users...)
}

func TestWizardImportFormats(t *testing.T) {
	a := newTestApp(t)
	a.srv.Dir = mailDir(120)

	t.Run("semicolons, mail column by its header, rejected rows downloadable", func(t *testing.T) {
		c := a.admin(t)
		data := "\ufeffName;E-Mail;Dept\r\nOne;first.1@example.org;x\r\nTwo;FIRST.2@example.org;y\r\nNobody;nobody@example.org;z\r\nBad;=cmd|x;w\r\nShort\r\n"
		resp, body := csvPost(t, a, c, data)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422: %s", resp.StatusCode, body)
		}
		wantContains(t, "import", body, "Added 2 users.", `data-testid="selection-count">2<`,
			"line 4: no user &#34;nobody@example.org&#34; in the directory", "line 5: &#34;=cmd|x&#34; is not a uid or mail address",
			"line 6: the line has no column 2", `data-testid="rejected-csv">Download the 3 rejected entries (CSV)<`,
			`data-testid="selected-imp0001"`, `data-testid="selected-imp0002"`)
		resp, csv := a.get(t, c, "/wizard/users/rejected.csv")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("rejected.csv = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		want := "line,entry,reason\n" +
			`4,nobody@example.org,"no user ""nobody@example.org"" in the directory"` + "\n" +
			`5,'=cmd|x,"""=cmd|x"" is not a uid or mail address"` + "\n" +
			"6,Short,the line has no column 2\n"
		if csv != want {
			t.Errorf("rejected.csv =\n%s\nwant\n%s", csv, want)
		}
	})

	t.Run("tabs, uid column by its header, pasted mail addresses", func(t *testing.T) {
		c := a.admin(t)
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"remove_all"}}, "/wizard/users?flash=Removed+0+users+from+the+selection.")
		resp, body := csvPost(t, a, c, "mail\tuid\nx@example.org\timp0010\ny@example.org\timp0011\n")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("import = %d, want 303: %s", resp.StatusCode, body)
		}
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {"first.12@example.org; imp0010"}},
			"/wizard/users?flash=Added+1+user.")
		_, body = a.get(t, c, "/wizard/users")
		wantContains(t, "selection", body, `data-testid="selection-count">3<`, `data-testid="selected-imp0012"`)
		wantNotContains(t, "selection", body, `data-testid="rejected-csv"`)
	})

	t.Run("a binary file is refused whole, not echoed", func(t *testing.T) {
		c := a.admin(t)
		png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + strings.Repeat("\x00\x01\x02\xff", 3000)
		resp, body := csvPost(t, a, c, png)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "import", body, "The file is not a text/CSV file (it holds binary data).")
		wantNotContains(t, "import", body, "IHDR", "Added 0", `\x00`, "&#34;\\x")
	})

	t.Run("nothing added: no 'Added 0 users' beside the error", func(t *testing.T) {
		c := a.admin(t)
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {"nosuch1"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("import = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "import", body, "Not added: no user &#34;nosuch1&#34; in the directory.")
		wantNotContains(t, "import", body, "Added 0")
	})

	t.Run("long input is echoed cut", func(t *testing.T) {
		c := a.admin(t)
		long := strings.Repeat("g", 10000)
		_, body := a.get(t, c, "/wizard/users?group="+long)
		wantContains(t, "search", body, "No group &#34;"+strings.Repeat("g", 64)+"&#34;… (10000 characters) in the directory.")
		// Only form fields keep the whole value (an input does not widen the page).
		if all, inFields := strings.Count(body, long), strings.Count(body, `value="`+long+`"`); all != inFields {
			t.Errorf("the page shows the 10,000-character group %d times, %d of them outside form fields", all, all-inFields)
		}
		entry := "x" + strings.Repeat("!", 5000)
		_, body = a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {entry}})
		wantContains(t, "import", body, "… (5001 characters) is not a uid or mail address")
		if n := strings.Count(body, entry); n != 1 {
			t.Errorf("the page shows the 5,001-character entry %d times, want once (in the text area)", n)
		}
	})

	t.Run("the selection is paged", func(t *testing.T) {
		c := a.admin(t)
		var list []string
		for i := range 120 {
			list = append(list, fmt.Sprintf("imp%04d", i))
		}
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"remove_all"}}, "")
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {strings.Join(list, "\n")}},
			"/wizard/users?flash=Added+120+users.")
		_, body := a.get(t, c, "/wizard/users?sel=3")
		wantContains(t, "page 3", body, `data-testid="selection-count">120<`, `data-testid="selection-pages">page 3 of 3<`,
			`data-testid="selected-imp0100"`, `data-testid="selected-imp0119"`, `data-testid="selection-prev"`)
		wantNotContains(t, "page 3", body, `data-testid="selected-imp0099"`, `data-testid="selection-next"`)
		if n := strings.Count(body, `data-testid="selected-`); n != 20 {
			t.Errorf("page 3 of the selection shows %d rows, want 20", n)
		}
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"remove"}, "remove": {"imp0100"}, "sel": {"3"}}, "/wizard/users?sel=3")
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"remove_all"}}, "/wizard/users?flash=Removed+119+users+from+the+selection.")
	})
}
