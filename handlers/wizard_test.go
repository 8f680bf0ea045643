package handlers_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
)

// wizardStep posts a wizard form and wants a redirect to next.
func (a *testApp) wizardStep(t *testing.T, c *http.Client, path string, form url.Values, next string) {
	t.Helper()
	resp, body := a.post(t, c, path, form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), next) {
		t.Fatalf("POST %s %v = %d to %q, want 303 to %s; body %s", path, form, resp.StatusCode, resp.Header.Get("Location"), next, body)
	}
}

// wizardGetOK fetches a wizard page and wants 200.
func (a *testApp) wizardGetOK(t *testing.T, c *http.Client, path string) string {
	t.Helper()
	resp, body := a.get(t, c, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200; body %s", path, resp.StatusCode, body)
	}
	return body
}

// wizardToSchedule selects user01 and user02 and target dst.
func (a *testApp) wizardToSchedule(t *testing.T, c *http.Client) {
	t.Helper()
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user01", "user02"}}, "/wizard/users")
	a.wizardStep(t, c, "/wizard/target", url.Values{"target": {"dst"}}, "/wizard/policy")
}

func wantContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s does not contain %q", what, s)
		}
	}
}

func wantNotContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if strings.Contains(body, s) {
			t.Errorf("%s contains %q, want not", what, s)
		}
	}
}

func TestWizardWalkThrough(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	ctx := context.Background()

	body := a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step", body, `<ul class="steps"`, `class="current"`, `data-testid="result-user01"`)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user01", "user02"}}, "/wizard/users")
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {"user03\nuser02, user04"}}, "/wizard/users")
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"remove"}, "remove": {"user04"}}, "/wizard/users")
	body = a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "selection", body, `data-testid="selection-count">3<`, `data-testid="selected-user01"`,
		`data-testid="selected-user02"`, `data-testid="selected-user03"`)
	wantNotContains(t, "selection", body, `data-testid="selected-user04"`)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"next"}}, "/wizard/target")

	body = a.wizardGetOK(t, c, "/wizard/target")
	wantContains(t, "target step", body, `data-testid="reason-src"`, "current server of every selected user")
	a.wizardStep(t, c, "/wizard/target", url.Values{"target": {"dst"}}, "/wizard/policy")
	a.wizardStep(t, c, "/wizard/policy", url.Values{"policy": {"skip"}, "max_bad": {"5"}, "source": {"keep"}}, "/wizard/schedule")

	// Back links keep every choice.
	body = a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step after going back", body, `data-testid="selection-count">3<`)
	body = a.wizardGetOK(t, c, "/wizard/target")
	wantContains(t, "target step after going back", body, `value="dst" checked`)
	body = a.wizardGetOK(t, c, "/wizard/policy")
	wantContains(t, "policy step after going back", body, `value="skip" checked`, `value="5"`, `value="keep" checked`)

	a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"now"}, "cancel_after": {"2"}, "parallel": {"3"}}, "/wizard/summary")
	body = a.wizardGetOK(t, c, "/wizard/schedule")
	wantContains(t, "schedule step after going back", body, `name="cancel_after" min="1" max="48" value="2"`, `value="3"`)

	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary", body, `data-testid="choice-users">3<`, `data-testid="choice-target">dst<`,
		"at most 5 per mailbox", "kept on the source server", `data-testid="choice-parallel">3<`, "after 2 hours",
		`data-testid="preflight-user03"`, "checking…", `href="/wizard/summary?preflight=now"`, "/static/wizard.")

	resp, body := a.post(t, c, "/wizard/start", nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/jobs/") {
		t.Fatalf("POST /wizard/start = %d to %q, want 303 to /jobs/{id}; body %s", resp.StatusCode, loc, body)
	}
	jobs, err := a.db.Jobs(ctx, "")
	if err != nil || len(jobs) != 1 {
		t.Fatalf("Jobs() = %v, %v, want one job", jobs, err)
	}
	if want := "/jobs/" + strconv.FormatInt(jobs[0].ID, 10); loc != want {
		t.Errorf("start redirected to %q, want %q", loc, want)
	}
	j := a.waitJob(t, jobs[0].ID)
	if j.CreatedBy != "alice" || j.Target != "dst" || j.Policy != model.PolicySkip || j.MaxBad != 5 || !j.KeepSource ||
		j.Parallel != 3 || j.CancelAfterHours != 2 || !j.StartAt.IsZero() {
		t.Errorf("job = %+v, want alice's skip/5/keep/3 parallel/2 hours to dst, starting now", j)
	}
	moves, err := a.db.Moves(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, m := range moves {
		uids = append(uids, m.UID)
		if m.State != model.MoveDone {
			t.Errorf("move of %s = %s (%s), want done", m.UID, m.State, m.Error)
		}
	}
	if got := strings.Join(uids, ","); got != "user01,user02,user03" {
		t.Errorf("moves = %s, want user01,user02,user03", got)
	}
	audit, err := a.db.AuditBefore(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range audit {
		found = found || (e.Actor == "alice" && e.JobID == j.ID)
	}
	if !found {
		t.Errorf("Audit() = %+v, want a row by alice for job %d", audit, j.ID)
	}
	// Starting cleared the wizard.
	body = a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step after start", body, `data-testid="selection-count">0<`)
}

// wizardPostCSV uploads a CSV to the users step as a browser does.
func (a *testApp) wizardPostCSV(t *testing.T, c *http.Client, csv string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("action", "import"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("csv", "users.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(fw, csv); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/wizard/users", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", a.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWizardCSV(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	resp, body := a.wizardPostCSV(t, c, "uid,name\r\nuser02,Two\r\nbad uid!,x\r\n\"broken,\r\nuser04\r\nnosuch\r\n")
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("CSV upload = %d, want 422", resp.StatusCode)
	}
	wantContains(t, "CSV upload", body, `data-testid="error-csv"`, "line 3: &#34;bad uid!&#34; is not a uid",
		"line 4: not valid CSV", "line 6: no user &#34;nosuch&#34; in the directory",
		`data-testid="selected-user02"`, `data-testid="selected-user04"`, "Added 2 users.")
	wantNotContains(t, "CSV upload", body, "line 1", "line 2:", "line 5")
	t.Run("all good", func(t *testing.T) {
		resp, body := a.wizardPostCSV(t, c, "user01\nuser03\n")
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("CSV upload = %d, want 303; body %s", resp.StatusCode, body)
		}
		body = a.wizardGetOK(t, c, "/wizard/users")
		wantContains(t, "selection", body, `data-testid="selection-count">4<`)
	})
}

func TestWizardInvalidInput(t *testing.T) {
	a := newTestApp(t)
	t.Run("empty selection", func(t *testing.T) {
		c := a.admin(t)
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"next"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("next with no users = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "next with no users", body, `data-testid="error-selection"`, "Select at least one user")
		if resp, _ := a.get(t, c, "/wizard/summary"); resp.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(resp.Header.Get("Location"), "/wizard/users") {
			t.Errorf("GET /wizard/summary with no users = %d to %q, want 303 to the users step", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("unknown uid pasted", func(t *testing.T) {
		c := a.admin(t)
		resp, body := a.post(t, c, "/wizard/users", url.Values{"action": {"import"}, "paste": {"user01, nosuch1 nosuch2"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("paste = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "paste", body, `data-testid="error-paste"`, "no user &#34;nosuch1&#34;", "no user &#34;nosuch2&#34;",
			`data-testid="selected-user01"`, ">user01, nosuch1 nosuch2</textarea>")
	})
	t.Run("target ineligible", func(t *testing.T) {
		c := a.admin(t)
		a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user01"}}, "/wizard/users")
		resp, body := a.post(t, c, "/wizard/target", url.Values{"target": {"src"}})
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("target src = %d, want 422", resp.StatusCode)
		}
		wantContains(t, "target src", body, `data-testid="error-target"`, "current server of every selected user",
			`value="src" disabled`)
	})

	c := a.admin(t)
	a.wizardToSchedule(t, c)
	for _, tc := range []struct {
		name, path string
		form       url.Values
		field      string
		keeps      string
	}{
		{"max-bad above 1000", "/wizard/policy", url.Values{"policy": {"skip"}, "max_bad": {"1001"}, "source": {"remove"}}, "max_bad", `value="1001"`},
		{"max-bad negative", "/wizard/policy", url.Values{"policy": {"skip"}, "max_bad": {"-1"}, "source": {"remove"}}, "max_bad", `value="-1"`},
		{"no policy", "/wizard/policy", url.Values{"max_bad": {"1"}, "source": {"remove"}}, "policy", `value="1"`},
		{"parallel 0", "/wizard/schedule", url.Values{"when": {"now"}, "parallel": {"0"}}, "parallel", `value="0"`},
		{"parallel 31", "/wizard/schedule", url.Values{"when": {"now"}, "parallel": {"31"}}, "parallel", `value="31"`},
		{"cancel-after 49", "/wizard/schedule", url.Values{"when": {"now"}, "cancel_after": {"49"}, "parallel": {"4"}}, "cancel_after", `value="49"`},
		{"start time in the past", "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {"2001-02-03T04:05"}, "parallel": {"4"}}, "start_at", `value="2001-02-03T04:05"`},
		{"bad datetime", "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {"tomorrow"}, "parallel": {"4"}}, "start_at", `value="tomorrow"`},
		{"no start time", "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {""}, "parallel": {"4"}}, "start_at", `value="at" checked`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := a.post(t, c, tc.path, tc.form)
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s %v = %d, want 422", tc.path, tc.form, resp.StatusCode)
			}
			wantContains(t, "re-rendered "+tc.path, body, `data-testid="error-`+tc.field+`"`, tc.keeps, `<ul class="steps"`)
		})
	}
	t.Run("start time in the future", func(t *testing.T) {
		at := time.Now().Add(2 * time.Hour).Format("2006-01-02T15:04")
		a.wizardStep(t, c, "/wizard/schedule", url.Values{"when": {"at"}, "start_at": {at}, "parallel": {"4"}}, "/wizard/summary")
		body := a.wizardGetOK(t, c, "/wizard/schedule")
		wantContains(t, "schedule after a start time", body, `value="at" checked`, `value="`+at+`"`)
	})
}

func TestWizardTargetMixedMode(t *testing.T) {
	a := newTestApp(t)
	// Set before any request, so no handler reads the config meanwhile.
	a.cfg.Mode = config.ModeMixed
	a.cfg.Servers[1].Group = "g2"
	c := a.admin(t)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user01"}}, "/wizard/users")
	body := a.wizardGetOK(t, c, "/wizard/target")
	wantContains(t, "target step", body, `value="dst" disabled`, `data-testid="reason-dst"`, "mixed mode")
	resp, body := a.post(t, c, "/wizard/target", url.Values{"target": {"dst"}})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("POST target dst in another group = %d, want 422", resp.StatusCode)
	}
	wantContains(t, "refusal", body, `data-testid="error-target"`, "mixed mode")
}

func TestWizardTargetSomeSkipped(t *testing.T) {
	a := newTestApp(t)
	if err := a.dir.SetHome(context.Background(), "uid=user02,ou=people,dc=example,dc=org", "src.example.org", "dst.example.org"); err != nil {
		t.Fatal(err)
	}
	c := a.admin(t)
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user01", "user02"}}, "/wizard/users")
	body := a.wizardGetOK(t, c, "/wizard/target")
	wantContains(t, "target step", body, `data-testid="skipped-dst"`, "1 of 2 selected users will be skipped: 1 already live on dst",
		`data-testid="skipped-src"`, "1 already live on src")
	a.wizardStep(t, c, "/wizard/target", url.Values{"target": {"dst"}}, "/wizard/policy")
	body = a.wizardGetOK(t, c, "/wizard/summary")
	wantContains(t, "summary", body, `data-testid="summary-note"`, "1 of 2 selected users will be skipped")
}
