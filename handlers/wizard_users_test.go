package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestWizardGhostNotSelectable(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	body := a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step", body, `<tr class="ineligible" data-testid="result-ghost"`, `data-testid="reason-ghost"`,
		"mailHost &#34;gone.example.org&#34; is not a registered server", `name="uid" value="user01"`)
	wantNotContains(t, "users step", body, `name="uid" value="ghost"`)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"checked anyway", url.Values{"action": {"add"}, "uid": {"ghost"}}, "results"},
		{"pasted", url.Values{"action": {"import"}, "paste": {"ghost"}}, "paste"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.post(t, c, "/wizard/users", tc.form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("POST %v = %d, want 422", tc.form, resp.StatusCode)
			}
			wantContains(t, "refusal", body, `data-testid="error-`+tc.field+`"`, "ghost: mailHost", `data-testid="selection-count">0<`)
		})
	}
}

func TestWizardSearch(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	for _, tc := range []struct {
		name, query string
		want, not   []string
	}{
		{"group", "?group=wave1", []string{"user01", "user03", "user05"}, []string{"user02", "user04", "ghost"}},
		{"text in name", "?q=user+02", []string{"user02"}, []string{"user01", "ghost"}},
		{"text in mail", "?q=ghost%40example", []string{"ghost"}, []string{"user01"}},
		{"current server", "?server=src", []string{"user01", "user05"}, []string{"ghost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := a.wizardGetOK(t, c, "/wizard/users"+tc.query)
			for _, uid := range tc.want {
				wantContains(t, "results", body, `data-testid="result-`+uid+`"`)
			}
			for _, uid := range tc.not {
				wantNotContains(t, "results", body, `data-testid="result-`+uid+`"`)
			}
		})
	}
	t.Run("unknown group", func(t *testing.T) {
		resp, body := a.get(t, c, "/wizard/users?group=nosuch")
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("GET unknown group = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "unknown group", body, `data-testid="error-group"`, `value="nosuch"`)
	})
}

func TestWizardSelectAllMatching(t *testing.T) {
	a := newTestApp(t)
	t.Run("group", func(t *testing.T) {
		c := a.admin(t)
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add_all"}, "group": {"wave1"}}, "/wizard/users?flash=Added+3+users.&fs=")
		body := a.wizardGetOK(t, c, "/wizard/users")
		wantContains(t, "selection", body, `data-testid="selection-count">3<`, `data-testid="selected-user05"`)
		wantNotContains(t, "selection", body, `data-testid="selected-user02"`)
	})
	t.Run("everyone, ghost left out", func(t *testing.T) {
		c := a.admin(t)
		resp, _ := a.post(t, c, "/wizard/users", url.Values{"action": {"add_all"}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "1+matching+users+live+on+no+registered+server") {
			t.Fatalf("select all = %d to %q, want 303 with a flash about the one left out", resp.StatusCode, loc)
		}
		body := a.wizardGetOK(t, c, loc)
		wantContains(t, "selection", body, `data-testid="selection-count">5<`, "Added 5 users.")
		wantNotContains(t, "selection", body, `data-testid="selected-ghost"`)
	})
}

func TestWizardReset(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	a.wizardStep(t, c, "/wizard/reset", nil, "/wizard/users")
	body := a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step after reset", body, `data-testid="selection-count">0<`)
	if resp, _ := a.get(t, c, "/wizard/policy"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /wizard/policy after reset = %d, want a redirect to an earlier step", resp.StatusCode)
	}
}

func TestWizardRefusals(t *testing.T) {
	a := newTestApp(t)
	hank := a.helpdesk(t)
	for _, path := range []string{"/wizard/users", "/wizard/target", "/wizard/policy", "/wizard/schedule",
		"/wizard/summary", "/wizard/preflight/events"} {
		if resp, _ := a.get(t, hank, path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk GET %s = %d, want 403", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/wizard/users", "/wizard/target", "/wizard/policy", "/wizard/schedule",
		"/wizard/start", "/wizard/reset"} {
		if resp, _ := a.post(t, hank, path, url.Values{"action": {"next"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
	alice := a.admin(t)
	a.wizardToSchedule(t, alice)
	for _, path := range []string{"/wizard/users", "/wizard/target", "/wizard/start", "/wizard/reset"} {
		if resp := a.crossSitePost(t, alice, path, url.Values{"action": {"next"}, "target": {"dst"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
	if jobs, err := a.db.Jobs(t.Context(), ""); err != nil || len(jobs) != 0 {
		t.Errorf("Jobs() = %v, %v, want none after refused starts", jobs, err)
	}
}
