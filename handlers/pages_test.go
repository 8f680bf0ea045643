package handlers_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// pagesRow returns the HTML of the first element whose data-testid is id,
// up to the end of its table row (or the whole rest of body when it is not
// in a row), so that a test looks at one row rather than the page.
func pagesRow(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-testid="`+id+`"`)
	if i < 0 {
		t.Fatalf("no data-testid %q in %s", id, body)
	}
	rest := body[i:]
	if j := strings.Index(rest, "</tr>"); j >= 0 {
		return rest[:j]
	}
	return rest
}

// pagesQueuedJob makes a job that the runner leaves alone for an hour, so
// that its moves stay queued.
func pagesQueuedJob(t *testing.T, a *testApp, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon,
		Parallel: 4, StartAt: time.Now().Add(time.Hour)}, uids)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPagesAccess(t *testing.T) {
	a := newTestApp(t)
	clients := map[string]*http.Client{"admin": a.admin(t), "helpdesk": a.helpdesk(t), "anonymous": a.client(t, "", "")}
	for _, tc := range []struct {
		path   string
		who    string
		status int
	}{
		{"/users", "admin", http.StatusOK},
		{"/users", "helpdesk", http.StatusOK},
		{"/users", "anonymous", http.StatusSeeOther},
		{"/users?q=user", "helpdesk", http.StatusOK},
		{"/users/user01", "admin", http.StatusOK},
		{"/users/user01", "helpdesk", http.StatusOK},
		{"/users/user01", "anonymous", http.StatusSeeOther},
		{"/users/nobody", "helpdesk", http.StatusNotFound},
		{"/servers", "admin", http.StatusOK},
		{"/servers", "helpdesk", http.StatusOK},
		{"/servers", "anonymous", http.StatusSeeOther},
		{"/audit", "admin", http.StatusOK},
		{"/audit", "helpdesk", http.StatusForbidden},
		{"/audit", "anonymous", http.StatusSeeOther},
		{"/audit?before=x", "admin", http.StatusBadRequest},
		{"/audit?before=-3", "admin", http.StatusBadRequest},
	} {
		t.Run(tc.who+" "+tc.path, func(t *testing.T) {
			resp, body := a.get(t, clients[tc.who], tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, resp.StatusCode, tc.status, body)
			}
			if tc.status == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
				t.Errorf("GET %s redirects to %q, want /signin?next=…", tc.path, resp.Header.Get("Location"))
			}
		})
	}
}

func TestUsersSearch(t *testing.T) {
	a := newTestApp(t)
	a.dir.AddUser(directory.User{DN: "uid=mallory,ou=people,dc=example,dc=org", UID: "mallory",
		Name: "<script>alert(1)</script>", Mail: "mallory@example.org", Home: "dst.example.org"})
	c := a.helpdesk(t)

	t.Run("empty query shows only the form", func(t *testing.T) {
		_, body := a.get(t, c, "/users")
		if !strings.Contains(body, `data-testid="user-search"`) || strings.Contains(body, `data-testid="user-row"`) ||
			strings.Contains(body, `data-testid="user-results-empty"`) {
			t.Errorf("GET /users = %s, want the form and no results", body)
		}
	})
	for _, tc := range []struct {
		name, q string
		rows    int
		want    []string
	}{
		{"by uid", "user0", 5, []string{`href="/users/user01"`, "User 03", "user05@example.org", ">src<"}},
		{"by mail, case-insensitive", "GHOST@example", 1, []string{`href="/users/ghost"`, "not a registered server: gone.example.org"}},
		{"by name", "user 02", 1, []string{`href="/users/user02"`}},
		{"escapes the display name", "mallory", 1, []string{"&lt;script&gt;alert(1)&lt;/script&gt;", ">dst<"}},
		{"nobody", "zzz", 0, []string{`data-testid="user-results-empty"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.get(t, c, "/users?q="+strings.ReplaceAll(tc.q, " ", "+"))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /users?q=%s = %d", tc.q, resp.StatusCode)
			}
			if n := strings.Count(body, `data-testid="user-row"`); n != tc.rows {
				t.Errorf("GET /users?q=%s shows %d users, want %d", tc.q, n, tc.rows)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET /users?q=%s lacks %q: %s", tc.q, w, body)
				}
			}
			if strings.Contains(body, "<script>alert(1)") {
				t.Errorf("GET /users?q=%s contains an unescaped script", tc.q)
			}
		})
	}
}

func TestUserPage(t *testing.T) {
	a := newTestApp(t)
	c := a.helpdesk(t)

	t.Run("never moved", func(t *testing.T) {
		_, body := a.get(t, c, "/users/user04")
		for _, w := range []string{`data-testid="user-server">src<`, `data-testid="user-moves-empty"`, "No move of this mailbox"} {
			if !strings.Contains(body, w) {
				t.Errorf("GET /users/user04 lacks %q: %s", w, body)
			}
		}
	})
	t.Run("ghost's home is no registered server", func(t *testing.T) {
		_, body := a.get(t, c, "/users/ghost")
		if row := pagesRow(t, body, "user-server"); !strings.Contains(row, "not a registered server: gone.example.org") {
			t.Errorf("GET /users/ghost says %q, want not a registered server: gone.example.org", row)
		}
	})
	t.Run("history after a move", func(t *testing.T) {
		j := a.createJob(t, "user02")
		a.waitJob(t, j.ID)
		_, body := a.get(t, c, "/users/user02")
		if srv := pagesRow(t, body, "user-server"); !strings.Contains(srv, ">dst<") {
			t.Errorf("GET /users/user02 names server %q, want dst", srv)
		}
		row := pagesRow(t, body, "user-move")
		for _, w := range []string{fmt.Sprintf(`href="/jobs/%d"`, j.ID), ">done<", "10 / 10", "<td>src</td>", "<td>dst</td>"} {
			if !strings.Contains(row, w) {
				t.Errorf("move row %q lacks %q", row, w)
			}
		}
	})
	t.Run("unfinished move", func(t *testing.T) {
		j := pagesQueuedJob(t, a, "user03")
		_, body := a.get(t, c, "/users/user03")
		cur := pagesRow(t, body, "user-current")
		for _, w := range []string{"not finished", ">queued<", fmt.Sprintf(`href="/jobs/%d"`, j.ID)} {
			if !strings.Contains(cur, w) {
				t.Errorf("current move %q lacks %q", cur, w)
			}
		}
	})
	t.Run("gone from the directory but moved before", func(t *testing.T) {
		j := a.createJob(t, "departed")
		a.waitJob(t, j.ID)
		resp, body := a.get(t, c, "/users/departed")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /users/departed = %d, want 200", resp.StatusCode)
		}
		if !strings.Contains(body, "not in the directory") || strings.Count(body, `data-testid="user-move"`) != 1 {
			t.Errorf("GET /users/departed = %s, want not in the directory and one move", body)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		resp, body := a.get(t, c, "/users/nobody")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `data-testid="error-message"`) {
			t.Errorf("GET /users/nobody = %d %s, want the 404 page", resp.StatusCode, body)
		}
	})
}

func TestServersPage(t *testing.T) {
	a := newTestApp(t)
	// A registered server that is down: its port was free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	a.cfg.Servers = append(a.cfg.Servers, config.Server{Name: "old", Address: down, TLS: config.TLSNone,
		Home: "old.example.org", Group: "g2", Login: config.LoginSASLPlain, AdminUser: "admin", AdminPassword: "adminpw",
		MaxParallel: 2})

	for who, c := range map[string]*http.Client{"admin": a.admin(t), "helpdesk": a.helpdesk(t)} {
		t.Run(who, func(t *testing.T) {
			resp, body := a.get(t, c, "/servers")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /servers = %d", resp.StatusCode)
			}
			if strings.Contains(body, "adminpw") {
				t.Error("GET /servers shows the admin password")
			}
			for _, tc := range []struct{ server, reach string }{
				{"src", "reachable (greeting: * OK"},
				{"dst", "reachable (greeting: * OK"},
				{"old", "refused: "},
			} {
				row := pagesRow(t, body, "server-"+tc.server)
				if reach := pagesRow(t, row, "server-reach"); !strings.Contains(reach, tc.reach) {
					t.Errorf("server %s reachability %q, want %q", tc.server, reach, tc.reach)
				}
			}
			old := pagesRow(t, body, "server-old")
			for _, w := range []string{down, "old.example.org", "g2", "sasl-plain", "<td>admin</td>", ">2<", "state-failed"} {
				if !strings.Contains(old, w) {
					t.Errorf("row of server old %q lacks %q", old, w)
				}
			}
		})
	}
}

func TestAuditPage(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	c := a.admin(t)

	j := pagesQueuedJob(t, a, "user01")
	if _, err := a.db.CancelJob(ctx, j.ID, "alice"); err != nil {
		t.Fatalf("CancelJob() = %v", err)
	}
	moves, err := a.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.RetryMove(ctx, moves[0].ID, "bob<b>"); err != nil {
		t.Fatalf("RetryMove() = %v", err)
	}
	_, body := a.get(t, c, "/audit")
	if n := strings.Count(body, `data-testid="audit-row"`); n != 3 {
		t.Fatalf("GET /audit shows %d entries, want 3: %s", n, body)
	}
	for i, tc := range []struct {
		action string
		want   []string
	}{
		{"retry mailbox", []string{"bob&lt;b&gt;", fmt.Sprintf(`href="/moves/%d">user01<`, moves[0].ID)}},
		{"cancel job", []string{"alice", fmt.Sprintf(`href="/jobs/%d"`, j.ID)}},
		{"start job", []string{"alice", fmt.Sprintf(`href="/jobs/%d"`, j.ID), "1 users to dst"}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			rows := strings.Split(body, `data-testid="audit-row"`)[1:]
			row := rows[i]
			if !strings.Contains(row, ">"+tc.action+"<") {
				t.Fatalf("entry %d = %q, want %q (newest first)", i, row, tc.action)
			}
			for _, w := range tc.want {
				if !strings.Contains(row, w) {
					t.Errorf("entry %q lacks %q", row, w)
				}
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		// The actions write their audit entries themselves; 120 of them
		// are written directly.
		raw, err := sql.Open("sqlite", a.cfg.Database)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < 119)
			INSERT INTO audit (at, actor, action, job_id, move_id, detail)
			SELECT ?, 'alice', 'bulk ' || i, 0, 0, '' FROM n`, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			t.Fatalf("insert audit entries: %v", err)
		}
		_, first := a.get(t, c, "/audit")
		if n := strings.Count(first, `data-testid="audit-row"`); n != 100 {
			t.Errorf("first page shows %d entries, want 100", n)
		}
		i := strings.Index(first, `href="/audit?before=`)
		if i < 0 || !strings.Contains(first, `data-testid="audit-older"`) {
			t.Fatalf("first page has no link to older entries: %s", first)
		}
		href := first[i+len(`href="`):]
		href = href[:strings.IndexByte(href, '"')]
		_, second := a.get(t, c, href)
		if n := strings.Count(second, `data-testid="audit-row"`); n != 23 {
			t.Errorf("GET %s shows %d entries, want 23", href, n)
		}
		if strings.Contains(second, `data-testid="audit-older"`) || !strings.Contains(second, ">start job<") {
			t.Errorf("GET %s = %s, want the last page ending with start job", href, second)
		}
	})
}
