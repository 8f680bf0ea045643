package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestSignIn(t *testing.T) {
	a := newTestApp(t)
	for _, tc := range []struct {
		name, login, password string
		status                int
		says                  string
	}{
		{"wrong password", "alice", "nope", http.StatusUnauthorized, "Wrong user name or password"},
		{"unknown user", "mallory", "x", http.StatusUnauthorized, "Wrong user name or password"},
		{"empty password", "alice", "", http.StatusUnauthorized, "Wrong user name or password"},
		{"no role", "olga", "olgapw", http.StatusForbidden, "neither the admin nor the helpdesk group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := a.client(t, "", "")
			resp, body := a.post(t, c, "/signin", url.Values{"login": {tc.login}, "password": {tc.password}})
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("POST /signin = %d %q, want %d saying %q", resp.StatusCode, body, tc.status, tc.says)
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("refused sign-in set cookies %v", resp.Cookies())
			}
		})
	}
	t.Run("admin", func(t *testing.T) {
		c := a.client(t, "", "")
		resp, _ := a.post(t, c, "/signin?next=/servers", url.Values{"login": {"alice"}, "password": {"alicepw"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/servers" {
			t.Fatalf("POST /signin = %d to %q, want 303 to /servers", resp.StatusCode, resp.Header.Get("Location"))
		}
		ck := resp.Cookies()[0]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %+v, want HttpOnly and SameSite=Lax", ck)
		}
	})
	t.Run("open redirect refused", func(t *testing.T) {
		c := a.client(t, "", "")
		resp, _ := a.post(t, c, "/signin?next=//evil.example/", url.Values{"login": {"alice"}, "password": {"alicepw"}})
		if loc := resp.Header.Get("Location"); loc != "/jobs" {
			t.Errorf("redirect to %q, want /jobs", loc)
		}
	})
}

func TestSignInRotatesAndSignOutEnds(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	u, _ := url.Parse(a.ts.URL)
	first := c.Jar.Cookies(u)[0].Value
	a.post(t, c, "/signin", url.Values{"login": {"alice"}, "password": {"alicepw"}})
	if second := c.Jar.Cookies(u)[0].Value; second == first {
		t.Error("sign-in kept the old session token")
	}
	resp, _ := a.post(t, c, "/signout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signout = %d", resp.StatusCode)
	}
	// The old token no longer works either.
	old := a.client(t, "", "")
	old.Jar.SetCookies(u, []*http.Cookie{{Name: "mw_session", Value: first}})
	if resp, _ := a.get(t, old, "/jobs"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /jobs with a rotated-out token = %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestRefusals(t *testing.T) {
	a := newTestApp(t)
	anon := a.client(t, "", "")
	if resp, _ := a.get(t, anon, "/jobs"); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("anonymous GET /jobs = %d to %q, want a redirect to /signin", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := a.post(t, anon, "/wizard/start", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST /wizard/start = %d, want 401", resp.StatusCode)
	}
	hank := a.helpdesk(t)
	for _, path := range []string{"/wizard/start", "/jobs/1/cancel", "/moves/1/retry", "/moves/1/cancel"} {
		if resp, body := a.post(t, hank, path, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only admins") {
			t.Errorf("helpdesk POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
	if resp, _ := a.get(t, hank, "/audit"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("helpdesk GET /audit = %d, want 403", resp.StatusCode)
	}
	alice := a.admin(t)
	if resp := a.crossSitePost(t, alice, "/jobs/1/cancel", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403 (CSRF)", resp.StatusCode)
	}
}
