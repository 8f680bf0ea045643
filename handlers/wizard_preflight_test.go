package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate/model"
)

// wizardEvent is one server-sent event.
type wizardEvent struct {
	name, data string
}

// wizardStream reads the preflight stream to its end (the server closes it
// after "done"). The deadline only keeps a broken server from hanging the
// test; nothing here measures speed.
func (a *testApp) wizardStream(t *testing.T, c *http.Client) []wizardEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.ts.URL+"/wizard/preflight/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /wizard/preflight/events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /wizard/preflight/events = %d %q %q, want 200 text/event-stream no-cache",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	var events []wizardEvent
	var ev wizardEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		case line == "":
			events = append(events, ev)
			ev = wizardEvent{}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read preflight stream: %v", err)
	}
	return events
}

// preflightResult is the JSON of a "preflight" event.
type preflightResult struct {
	UID      string `json:"uid"`
	Source   string `json:"source"`
	Messages int64  `json:"messages"`
	Bytes    int64  `json:"bytes"`
	Count    string `json:"count"`
	Size     string `json:"size"`
	Status   string `json:"status"`
	Problems string `json:"problems"`
	HeldJob  int64  `json:"held_job"`
}

// preflightResults checks the stream's shape (preflight events, then one
// done) and returns the results by uid.
func preflightResults(t *testing.T, events []wizardEvent) map[string]preflightResult {
	t.Helper()
	if len(events) == 0 || events[len(events)-1].name != "done" {
		t.Fatalf("stream = %d events, want preflight events then done", len(events))
	}
	out := map[string]preflightResult{}
	for _, e := range events[:len(events)-1] {
		if e.name != "preflight" {
			t.Fatalf("event %q before done, want only preflight", e.name)
		}
		var r preflightResult
		if err := json.Unmarshal([]byte(e.data), &r); err != nil {
			t.Fatalf("preflight event %q: %v", e.data, err)
		}
		if _, dup := out[r.UID]; dup {
			t.Errorf("two preflight events for %s", r.UID)
		}
		out[r.UID] = r
	}
	return out
}

// wizardToken returns the session cookie's token of a signed-in client.
func (a *testApp) wizardToken(t *testing.T, c *http.Client) string {
	t.Helper()
	u, _ := url.Parse(a.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "mw_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func TestWizardPreflightStream(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	a.wizardToSchedule(t, c) // user01, user02 to dst
	got := preflightResults(t, a.wizardStream(t, c))
	if len(got) != 2 {
		t.Fatalf("preflight results = %v, want user01 and user02", got)
	}
	for _, uid := range []string{"user01", "user02"} {
		r := got[uid]
		if r.Status != "ok" || r.Source != "src" || r.Messages != 10 || r.Bytes <= 0 || r.Count != "10" || r.Size == "" {
			t.Errorf("preflight of %s = %+v, want ok from src with 10 messages and a size", uid, r)
		}
	}

	t.Run("ghost and unknown users", func(t *testing.T) {
		if err := handlers.WizardSelectForTest(a.srv, a.wizardToken(t, c), "dst", "ghost", "nosuch"); err != nil {
			t.Fatal(err)
		}
		got := preflightResults(t, a.wizardStream(t, c))
		if r := got["ghost"]; r.Status != "problem" || !strings.Contains(r.Problems, `"gone.example.org" is not a registered server`) {
			t.Errorf("preflight of ghost = %+v, want a problem naming the unregistered server", r)
		}
		if r := got["nosuch"]; r.Status != "problem" || !strings.Contains(r.Problems, "No user") {
			t.Errorf("preflight of nosuch = %+v, want a problem saying the user is unknown", r)
		}
	})

	t.Run("a thousand users", func(t *testing.T) {
		uids := make([]string, 1000)
		for i := range uids {
			uids[i] = fmt.Sprintf("nobody%04d", i)
		}
		if err := handlers.WizardSelectForTest(a.srv, a.wizardToken(t, c), "dst", uids...); err != nil {
			t.Fatal(err)
		}
		got := preflightResults(t, a.wizardStream(t, c))
		if len(got) != 1000 {
			t.Errorf("preflight results = %d, want 1000", len(got))
		}
		for _, uid := range uids {
			if r, ok := got[uid]; !ok || r.Status != "problem" {
				t.Errorf("preflight of %s = %+v, %v, want a problem", uid, r, ok)
				break
			}
		}
	})
}

func TestWizardSummaryWithoutScripts(t *testing.T) {
	a := newTestApp(t)
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	body := a.wizardGetOK(t, c, "/wizard/summary?preflight=now")
	wantContains(t, "checked summary", body, `data-testid="preflight-status">Checked: 2 ready, 0 with problems.`,
		`<td class="num" data-field="count">10</td>`, `data-field="status">ok</span>`)
	wantNotContains(t, "checked summary", body, "checking…", "/static/wizard.")
}

func TestWizardStartHeld(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	// A job that waits for its start time keeps user01's move unfinished.
	held, err := a.db.CreateJob(ctx, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		StartAt: time.Now().Add(24 * time.Hour)}, []string{"user01"})
	if err != nil {
		t.Fatal(err)
	}
	c := a.admin(t)
	a.wizardToSchedule(t, c)
	got := preflightResults(t, a.wizardStream(t, c))
	if r := got["user01"]; r.Status != "problem" || r.HeldJob != held.ID || !strings.Contains(r.Problems, "unfinished job") {
		t.Errorf("preflight of user01 = %+v, want a problem naming job %d", r, held.ID)
	}
	// The preflight found the problem: the start is refused before the
	// job store is asked, back on the summary with the way out.
	resp, _ := a.post(t, c, "/wizard/start", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/wizard/summary?") ||
		!strings.Contains(flashOf(t, loc), "preflight found problems with 1 user (user01)") {
		t.Fatalf("POST /wizard/start = %d to %q, want 303 to the summary naming user01", resp.StatusCode, loc)
	}
	// Without a preflight (the selection changed since), the job store
	// refuses, and that too leads back to the summary.
	a.wizardStep(t, c, "/wizard/users", url.Values{"action": {"add"}, "uid": {"user03"}}, "/wizard/users")
	resp, _ = a.post(t, c, "/wizard/start", nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/wizard/summary?") ||
		!strings.Contains(flashOf(t, loc), "user \"user01\" is already in unfinished job "+fmt.Sprint(held.ID)) {
		t.Fatalf("POST /wizard/start = %d to %q (%q), want 303 to the summary naming job %d", resp.StatusCode, loc, flashOf(t, loc), held.ID)
	}
	if jobs, err := a.db.Jobs(ctx, ""); err != nil || len(jobs) != 1 {
		t.Errorf("Jobs() = %d jobs, %v, want only the holding one", len(jobs), err)
	}
	// The refused start kept the wizard's choices.
	body := a.wizardGetOK(t, c, "/wizard/users")
	wantContains(t, "users step after refusal", body, `data-testid="selection-count">3<`)
}

// flashOf is the flash message a redirect's location carries.
func flashOf(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("redirect location %q: %v", loc, err)
	}
	return u.Query().Get("flash")
}
