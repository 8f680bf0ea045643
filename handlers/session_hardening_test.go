package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
)

// sessionOf returns the stored session of a signed-in client.
func sessionOf(t *testing.T, a *testApp, c *http.Client) (db.Session, error) {
	t.Helper()
	u, _ := url.Parse(a.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "mw_session" {
			return a.db.SessionByToken(context.Background(), ck.Value)
		}
	}
	return db.Session{}, fmt.Errorf("no session cookie: %w", db.ErrNotFound)
}

// ageRoleCheck makes the client's session look checked `ago` in the past.
func ageRoleCheck(t *testing.T, a *testApp, c *http.Client, ago time.Duration) {
	t.Helper()
	sess, err := sessionOf(t, a, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.SetSessionRole(context.Background(), sess.ID, sess.Role, time.Now().Add(-ago)); err != nil {
		t.Fatal(err)
	}
}

func memAuth(t *testing.T, a *testApp) *directory.MemAuth {
	t.Helper()
	m, ok := a.srv.Auth.(*directory.MemAuth)
	if !ok {
		t.Fatalf("the test app signs in with %T, want *directory.MemAuth", a.srv.Auth)
	}
	return m
}

// TestRoleRecheck: a person removed from the groups loses the session at
// the first request after the check interval (not before: the role is
// cached), is sent to the sign-in page with the reason; an admin made
// helpdesk can no longer change anything at once.
func TestRoleRecheck(t *testing.T) {
	a := newTestApp(t)
	auth := memAuth(t, a)

	t.Run("removed from helpdesk", func(t *testing.T) {
		hank := a.helpdesk(t)
		auth.SetRole("hank", "")
		defer auth.SetRole("hank", model.RoleHelpdesk)
		if resp, _ := a.get(t, hank, "/jobs"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /jobs within the check interval = %d, want 200 (role cached)", resp.StatusCode)
		}
		ageRoleCheck(t, a, hank, 3*time.Minute)
		resp, _ := a.get(t, hank, "/jobs")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?why=role" {
			t.Fatalf("GET /jobs after removal = %d to %q, want 303 to /signin?why=role", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, err := sessionOf(t, a, hank); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("session after removal: %v, want it deleted", err)
		}
		_, body := a.get(t, hank, "/signin?why=role")
		if !strings.Contains(body, `data-testid="signin-notice"`) || !strings.Contains(body, "no longer in the admin or helpdesk group") {
			t.Errorf("sign-in page after removal does not say why")
		}
		if resp, _ := a.post(t, hank, "/signin", url.Values{"login": {"hank"}, "password": {"hankpw"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("sign-in after removal = %d, want 403", resp.StatusCode)
		}
	})

	t.Run("admin made helpdesk", func(t *testing.T) {
		alice := a.admin(t)
		auth.SetRole("alice", model.RoleHelpdesk)
		defer auth.SetRole("alice", model.RoleAdmin)
		ageRoleCheck(t, a, alice, 2*time.Minute+time.Second)
		if resp, body := a.post(t, alice, "/wizard/start", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only admins") {
			t.Errorf("POST /wizard/start after the downgrade = %d, want 403", resp.StatusCode)
		}
		sess, err := sessionOf(t, a, alice)
		if err != nil || sess.Role != model.RoleHelpdesk || time.Since(sess.RoleCheckedAt) > time.Minute {
			t.Errorf("session after the downgrade = %+v, %v; want helpdesk, checked now", sess, err)
		}
		if resp, _ := a.get(t, alice, "/jobs"); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /jobs as the downgraded admin = %d, want 200", resp.StatusCode)
		}
	})

	t.Run("person deleted", func(t *testing.T) {
		auth.Add("dora", "Dora Admin", "dorapw", model.RoleAdmin)
		dora := a.client(t, "dora", "dorapw")
		auth.Remove("dora")
		ageRoleCheck(t, a, dora, time.Hour)
		// Not a page load: 401 with the reason.
		resp, body := a.post(t, dora, "/wizard/start", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "signed out") {
			t.Errorf("POST after deletion = %d %q, want 401 with the reason", resp.StatusCode, body)
		}
		if _, err := sessionOf(t, a, dora); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("session after deletion: %v, want it deleted", err)
		}
	})

	t.Run("still a member", func(t *testing.T) {
		hank := a.helpdesk(t)
		ageRoleCheck(t, a, hank, time.Hour)
		if resp, _ := a.get(t, hank, "/jobs"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /jobs = %d, want 200", resp.StatusCode)
		}
		if sess, err := sessionOf(t, a, hank); err != nil || time.Since(sess.RoleCheckedAt) > time.Minute {
			t.Errorf("session after a re-check = %+v, %v; want checked now", sess, err)
		}
	})
}

// flakyAuth is MemAuth with a directory that can be down, counting Role calls.
type flakyAuth struct {
	*directory.MemAuth
	down  atomic.Bool
	calls atomic.Int32
}

func (f *flakyAuth) Role(ctx context.Context, dn string) (model.Role, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return "", errors.New("connect to ldap://127.0.0.1:1: connection refused")
	}
	return f.MemAuth.Role(ctx, dn)
}

// TestRoleRecheckDirectoryDown: a directory that cannot be reached signs
// nobody out; the failure is logged at WARN and the next request asks again.
func TestRoleRecheckDirectoryDown(t *testing.T) {
	a := newTestApp(t)
	flaky := &flakyAuth{MemAuth: memAuth(t, a)}
	a.srv.Auth = flaky
	logs := &syncBuffer{}
	a.srv.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	hank := a.helpdesk(t)
	ageRoleCheck(t, a, hank, time.Minute) // younger than the interval: no check
	if resp, _ := a.get(t, hank, "/jobs"); resp.StatusCode != http.StatusOK || flaky.calls.Load() != 0 {
		t.Fatalf("GET /jobs with a 1-minute-old check = %d after %d checks, want 200 and none", resp.StatusCode, flaky.calls.Load())
	}

	flaky.down.Store(true)
	ageRoleCheck(t, a, hank, time.Hour)
	for i := 1; i <= 2; i++ {
		if resp, _ := a.get(t, hank, "/jobs"); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /jobs %d with the directory down = %d, want 200", i, resp.StatusCode)
		}
		if got := flaky.calls.Load(); got != int32(i) {
			t.Errorf("after request %d with the directory down: %d checks, want %d (retried each request)", i, got, i)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "role re-check failed") {
		t.Errorf("no WARN about the failed re-check in\n%s", logs.String())
	}
	if sess, err := sessionOf(t, a, hank); err != nil || time.Since(sess.RoleCheckedAt) < 30*time.Minute {
		t.Errorf("session with the directory down = %+v, %v; want it kept with its old check time", sess, err)
	}

	flaky.down.Store(false)
	a.get(t, hank, "/jobs")
	a.get(t, hank, "/jobs")
	if got := flaky.calls.Load(); got != 3 {
		t.Errorf("checks after the directory came back = %d, want 3 (one, then cached)", got)
	}
}

// TestSignInNext: the sign-in page carries next (from requireSignIn's
// redirect) in its form, and signing in lands there; the attack strings
// browsers follow off-site land on /jobs, by form and by query.
func TestSignInNext(t *testing.T) {
	a := newTestApp(t)
	anon := a.client(t, "", "")
	const want = "/jobs/7?state=running&page=2"
	resp, _ := a.get(t, anon, want)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/signin?next="+url.QueryEscape(want) {
		t.Fatalf("anonymous GET %s = %d to %q, want 303 to /signin?next=…", want, resp.StatusCode, loc)
	}
	_, body := a.get(t, anon, loc)
	if !strings.Contains(body, `<input type="hidden" name="next" value="/jobs/7?state=running&amp;page=2">`) {
		t.Fatalf("sign-in page lacks next in its form:\n%s", body)
	}
	resp, _ = a.post(t, anon, "/signin", url.Values{"login": {"alice"}, "password": {"alicepw"}, "next": {want}})
	if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != want {
		t.Errorf("sign-in with next = %d to %q, want 303 to %s", resp.StatusCode, got, want)
	}

	for _, attack := range []string{"//evil.example/", "/\\evil.example/", "/%09/evil.example", "/\t/evil.example",
		"/%0a/evil.example", "/%5Cevil.example", "https://evil.example/", "javascript:alert(1)", "/%2F/evil.example"} {
		c := a.client(t, "", "")
		if _, body := a.get(t, c, "/signin?next="+url.QueryEscape(attack)); strings.Contains(body, `name="next"`) {
			t.Errorf("sign-in page carries next=%q in its form", attack)
		}
		resp, _ := a.post(t, c, "/signin", url.Values{"login": {"alice"}, "password": {"alicepw"}, "next": {attack}})
		if got := resp.Header.Get("Location"); got != "/jobs" {
			t.Errorf("sign-in with form next=%q redirects to %q, want /jobs", attack, got)
		}
		c = a.client(t, "", "")
		resp, _ = a.post(t, c, "/signin?next="+url.QueryEscape(attack), url.Values{"login": {"alice"}, "password": {"alicepw"}})
		if got := resp.Header.Get("Location"); got != "/jobs" {
			t.Errorf("sign-in with query next=%q redirects to %q, want /jobs", attack, got)
		}
		// Signed in already: the sign-in page redirects, also only same-site.
		if resp, _ := a.get(t, c, "/signin?next="+url.QueryEscape(attack)); resp.Header.Get("Location") != "/jobs" {
			t.Errorf("signed-in GET /signin?next=%q redirects to %q, want /jobs", attack, resp.Header.Get("Location"))
		}
	}

	// A failed attempt keeps next for the next try.
	resp, body = a.post(t, a.client(t, "", ""), "/signin", url.Values{"login": {"hank"}, "password": {"nope"}, "next": {"/servers"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `name="next" value="/servers"`) {
		t.Errorf("failed sign-in = %d, form without next", resp.StatusCode)
	}
}

// TestFlashReplay: a flash link shows its message to its own session only;
// another person, or the same person after signing in again, sees none.
func TestFlashReplay(t *testing.T) {
	a := newTestApp(t)
	alice := a.admin(t)
	j := jobsCreateLater(t, a, "user01")
	resp, _ := a.post(t, alice, fmt.Sprintf("/jobs/%d/cancel", j.ID), nil)
	loc := resp.Header.Get("Location")
	if u, err := url.Parse(loc); err != nil || u.Query().Get("flash") == "" {
		t.Fatalf("cancel redirects to %q, want a flash", loc)
	}
	if _, body := a.get(t, alice, loc); !strings.Contains(body, `data-testid="flash"`) {
		t.Fatal("the flash is not shown to its own session")
	}
	if _, body := a.get(t, a.helpdesk(t), loc); strings.Contains(body, `data-testid="flash"`) {
		t.Error("another person's session shows the flash")
	}
	again := a.admin(t)
	if _, body := a.get(t, again, loc); strings.Contains(body, `data-testid="flash"`) {
		t.Error("another session of the same person shows the flash")
	}
	// Forged: the message changed under the signature.
	u, _ := url.Parse(loc)
	q := u.Query()
	q.Set("flash", "Your password expired: enter it at evil.example")
	u.RawQuery = q.Encode()
	if _, body := a.get(t, alice, u.String()); strings.Contains(body, "evil.example") {
		t.Error("a forged flash is shown")
	}
}
