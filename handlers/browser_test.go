package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/model"
)

// browserStates is the JavaScript that reads every mailbox row's state
// cell of the job page, keyed by uid, as live.js leaves them.
const browserStates = `(function(){var o={};document.querySelectorAll("tr[data-move]").forEach(function(r){
	var a=r.querySelector("a"), s=r.querySelector("[data-field=state]");
	o[a?a.textContent.trim():r.getAttribute("data-move")]=s?s.textContent.trim():"";});return o})()`

func TestBrowserAdminWizardToCompletedJob(t *testing.T) {
	a := newBrowserApp(t)
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")

	// Step 1: search, tick two users, paste the third.
	b.do("open the wizard from the nav", chromedp.Click(chromedp.CSS(`nav a[href="/wizard/users"]`)))
	browserPoll(b, "wizard users page", "location.pathname", func(p string) bool { return p == "/wizard/users" })
	b.do("type a search", chromedp.SendKeys(chromedp.ID("q"), "user0"))
	b.submit(`[data-testid=user-search] button[type=submit]`)
	for _, uid := range browserUsers {
		if n := b.count("[data-testid=result-" + uid + "]"); n != 1 {
			t.Fatalf("search results show %s %d times, want 1: %s", uid, n, b.text("[data-testid=user-results]"))
		}
	}
	b.do("tick user01 and user02",
		chromedp.Click(chromedp.CSS(`[data-testid=result-user01] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=result-user02] input[type=checkbox]`)))
	b.submit("[data-testid=add-checked]")
	if got := b.text("[data-testid=selection-count]"); got != "2" {
		t.Fatalf("selection after ticking two users = %q, want 2", got)
	}
	b.do("paste a uid", chromedp.SendKeys(chromedp.ID("paste"), "user03"))
	b.submit("[data-testid=import]")
	if got := b.text("[data-testid=selection-count]"); got != "3" {
		t.Fatalf("selection after pasting user03 = %q, want 3: %s", got, b.text("main"))
	}
	if got := b.text("[data-testid=selected-user02]"); !strings.Contains(got, browserEvilName) {
		t.Errorf("selection row of user02 = %q, want the display name %q as text", got, browserEvilName)
	}
	b.submit("[data-testid=next]")

	// Step 2: target.
	if got := b.path(); got != "/wizard/target" {
		t.Fatalf("after step 1 the page is %s, want /wizard/target", got)
	}
	b.do("choose dst", chromedp.Click(chromedp.ID("target-dst")))
	b.submit("[data-testid=next]")

	// Step 3: skip at most 5 bad items per mailbox.
	if got := b.path(); got != "/wizard/policy" {
		t.Fatalf("after step 2 the page is %s, want /wizard/policy", got)
	}
	b.do("choose skip with at most 5",
		chromedp.Click(chromedp.CSS(`input[name=policy][value=skip]`)),
		chromedp.Clear(chromedp.CSS(`input[name=max_bad]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=max_bad]`), "5"))
	b.submit("[data-testid=next]")

	// Step 4: start now, two at once.
	if got := b.path(); got != "/wizard/schedule" {
		t.Fatalf("after step 3 the page is %s, want /wizard/schedule: %s", got, b.text("main"))
	}
	b.do("start now, parallel 2",
		chromedp.Click(chromedp.CSS(`input[name=when][value=now]`)),
		chromedp.Clear(chromedp.ID("parallel")),
		chromedp.SendKeys(chromedp.ID("parallel"), "2"))
	b.submit("[data-testid=next]")

	// Step 5: the summary, with the preflight rows filled in live.
	if got := b.path(); got != "/wizard/summary" {
		t.Fatalf("after step 4 the page is %s, want /wizard/summary: %s", got, b.text("main"))
	}
	for sel, want := range map[string]string{"choice-users": "3", "choice-target": "dst", "choice-parallel": "2"} {
		if got := strings.TrimSpace(b.text("[data-testid=" + sel + "]")); got != want {
			t.Errorf("summary %s = %q, want %q", sel, got, want)
		}
	}
	if got := b.text("[data-testid=choice-policy]"); !strings.Contains(got, "5") {
		t.Errorf("summary policy = %q, want it to name the maximum 5", got)
	}
	statuses := browserPoll(b, "preflight results",
		`Array.from(document.querySelectorAll("tr[data-preflight-uid] [data-field=status]")).map(function(e){return e.textContent.trim()})`,
		func(s []string) bool {
			return len(s) == len(browserUsers) && !slices.ContainsFunc(s, func(v string) bool {
				return v != "ok" && v != "warning" && v != "problem"
			})
		})
	// The server rendered the rows unchecked: the results above came
	// through the preflight stream.
	served := browserEval[[]string](b, `fetch("/wizard/summary").then(function(r){return r.text()}).then(function(h){
		var d=new DOMParser().parseFromString(h,"text/html");
		return Array.from(d.querySelectorAll("tr[data-preflight-uid] [data-field=status]")).map(function(e){return e.textContent.trim()})})`)
	if len(served) != len(browserUsers) || slices.ContainsFunc(served, func(v string) bool { return v == "ok" }) {
		t.Errorf("the summary as served has status cells %q, want %d unchecked ones filled in by the stream", served, len(browserUsers))
	}
	for i, s := range statuses {
		if s != "ok" {
			t.Errorf("preflight row %d = %q, want ok: %s", i, s, b.text("[data-testid=preflight]"))
		}
	}
	for _, uid := range browserUsers {
		if got := strings.TrimSpace(b.text("[data-testid=preflight-" + uid + "] [data-field=count]")); got != fmt.Sprint(browserInboxMessages+1) {
			t.Errorf("preflight message count of %s = %q, want %d", uid, got, browserInboxMessages+1)
		}
	}

	// Hold the moves at the target's login, so that the job page surely
	// renders before they finish and the rows must change live.
	for _, uid := range browserUsers {
		a.dst.Faults().Hang(uid)
	}
	released := false
	release := func() {
		if !released {
			released = true
			a.dst.Faults().Unhang()
		}
	}
	t.Cleanup(release)
	b.submit("[data-testid=start]")
	jobPath := b.path()
	var jobID int64
	if _, err := fmt.Sscanf(jobPath, "/jobs/%d", &jobID); err != nil {
		t.Fatalf("after Start the page is %s, want /jobs/{id}", jobPath)
	}
	if n := b.count("tr[data-move]"); n != len(browserUsers) {
		t.Fatalf("job page has %d mailbox rows, want %d", n, len(browserUsers))
	}
	// A reload would lose this.
	browserEval[chromedp.Void](b, `window.browserTestMarker = "not reloaded"`)
	browserPoll(b, "a row running while the target is held", browserStates, func(m map[string]string) bool {
		return slices.Contains(mapValues(m), "running")
	})
	if m := browserEval[map[string]string](b, browserStates); slices.Contains(mapValues(m), "done") {
		t.Fatalf("a move finished while the target was held: %v", m)
	}
	release()
	states := browserPoll(b, "every mailbox row done", browserStates, func(m map[string]string) bool {
		if len(m) != len(browserUsers) {
			return false
		}
		for _, s := range m {
			if s != string(model.MoveDone) {
				// A failed move would never become done: stop at once.
				return s == string(model.MoveFailed) || s == string(model.MoveAbandoned) || s == string(model.MoveCancelled)
			}
		}
		return true
	})
	for uid, s := range states {
		if s != string(model.MoveDone) {
			t.Errorf("row %s = %s, want done: %s", uid, s, b.text("[data-testid=move-"+uid+"]"))
		}
	}
	if got := browserEval[string](b, `window.browserTestMarker || ""`); got != "not reloaded" {
		t.Errorf("the job page reloaded while watching (marker %q)", got)
	}
	if got := b.text("[data-testid=live-status]"); got != "live" {
		t.Errorf("live status = %q, want live", got)
	}

	// The target really has the mail, and the directory points there.
	for _, uid := range browserUsers {
		msgs, err := a.dst.Messages(uid, "INBOX")
		if err != nil {
			t.Fatalf("dst INBOX of %s: %v", uid, err)
		}
		if len(msgs) != browserInboxMessages {
			t.Errorf("dst INBOX of %s has %d messages, want %d", uid, len(msgs), browserInboxMessages)
		}
		boxes, err := a.dst.Mailboxes(uid)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, mb := range boxes {
			total += mb.Messages
		}
		if total != browserInboxMessages+1 {
			t.Errorf("dst of %s holds %d messages in %v, want %d", uid, total, boxes, browserInboxMessages+1)
		}
		if got := a.ldap.Attr(t, a.ldap.UserDN(uid), "mailHost"); !slices.Equal(got, []string{"dst.example.org"}) {
			t.Errorf("mailHost of %s = %v, want [dst.example.org]", uid, got)
		}
	}

	browserScreenshot(t, b, "job-page.png")

	// The CSV report, fetched as the page's own download link would.
	href := browserEval[string](b, `document.querySelector("[data-testid=report-csv]").getAttribute("href")`)
	if want := fmt.Sprintf("/jobs/%d/report.csv", jobID); href != want {
		t.Errorf("report link = %q, want %q", href, want)
	}
	body := browserEval[string](b, fmt.Sprintf(`fetch(%q).then(function(r){
		if(!r.ok) throw new Error("status "+r.status); return r.text()})`, href))
	outcomes := browserReportOutcomes(t, body)
	for _, uid := range browserUsers {
		if got := outcomes[uid]; got != "done" {
			t.Errorf("report outcome of %s = %q, want done (report %q)", uid, got, body)
		}
	}
}

// browserReportOutcomes parses the CSV report and returns each mailbox
// record's outcome by uid.
func browserReportOutcomes(t *testing.T, body string) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV report: %v\n%s", err, body)
	}
	if len(rows) == 0 {
		t.Fatal("empty CSV report")
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"record", "uid", "outcome"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("CSV report header %v has no column %q", rows[0], name)
		}
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		if r[col["record"]] == "mailbox" {
			out[r[col["uid"]]] = r[col["outcome"]]
		}
	}
	return out
}

// browserScreenshot saves a full-page PNG under testdata/artifacts for
// people looking at a CI run.
func browserScreenshot(t *testing.T, b *browserTab, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	t.Logf("screenshot of %s saved to %s", b.location(), abs)
}

func mapValues(m map[string]string) []string {
	var l []string
	for _, v := range m {
		l = append(l, v)
	}
	return l
}

func TestBrowserHelpdeskSeesNoButtons(t *testing.T) {
	a := newBrowserApp(t)
	job := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 2}, browserUsers...)
	a.waitJob(t, job.ID)
	// A second job whose moves stay queued: the buttons an admin would see
	// on unfinished work must not appear for helpdesk either.
	queued := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon, Parallel: 1,
		StartAt: time.Now().Add(24 * time.Hour)}, browserUsers...)

	b := newBrowser(t, a.ts.URL)
	b.signIn("hank", "hankpw")
	if got := b.text("[data-testid=who]"); !strings.Contains(got, "helpdesk") {
		t.Errorf("signed-in frame says %q, want the helpdesk role", got)
	}
	if n := b.count(`nav a[href^="/wizard"]`); n != 0 {
		t.Errorf("helpdesk nav has %d wizard links, want 0: %s", n, b.text("nav"))
	}
	for _, j := range []model.Job{job, queued} {
		b.open(fmt.Sprintf("/jobs/%d", j.ID))
		if n := b.count("tr[data-move]"); n != len(browserUsers) {
			t.Errorf("job %d shows %d mailbox rows to helpdesk, want %d", j.ID, n, len(browserUsers))
		}
		for _, uid := range browserUsers {
			if n := b.count("[data-testid=move-" + uid + "]"); n != 1 {
				t.Errorf("job %d: row of %s shown %d times, want 1", j.ID, uid, n)
			}
		}
		browserNoActions(t, b)
	}
	// The mailbox page has no buttons either.
	b.open(fmt.Sprintf("/jobs/%d", queued.ID))
	b.submit(`[data-testid=move-user01] a`)
	if !strings.HasPrefix(b.path(), "/moves/") {
		t.Fatalf("the mailbox link leads to %s, want /moves/{id}", b.path())
	}
	browserNoActions(t, b)
	// Typing the wizard's address is refused.
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(a.ts.URL+"/wizard/users"))
	if err != nil {
		t.Fatalf("open /wizard/users: %v", err)
	}
	if resp.Status != 403 {
		t.Errorf("helpdesk opening /wizard/users: status %d, want 403", resp.Status)
	}

	// The control: an admin does get the buttons on the same page, so the
	// selectors above look for the right things.
	b.open("/jobs")
	b.submit(`form[action="/signout"] button`)
	b.signIn("alice", "alicepw")
	b.open(fmt.Sprintf("/jobs/%d", queued.ID))
	if n := b.count(`form[action$="/cancel"]`); n != 1+len(browserUsers) {
		t.Errorf("admin sees %d cancel forms on the queued job, want %d (job and each mailbox)", n, 1+len(browserUsers))
	}
	if n := b.count(`nav a[href^="/wizard"]`); n != 1 {
		t.Errorf("admin nav has %d wizard links, want 1", n)
	}
}

// browserNoActions checks that the page offers no action that changes a
// job: no form posting to cancel, retry or the wizard, no start button.
func browserNoActions(t *testing.T, b *browserTab) {
	t.Helper()
	sel := `form[action$="/cancel"], form[action$="/retry"], form[action^="/wizard"], [data-testid=start], ` +
		`[data-testid=cancel-job], [data-testid=cancel-move], [data-testid=retry-move]`
	if n := b.count(sel); n != 0 {
		t.Errorf("%s shows %d action forms or buttons to helpdesk, want 0", b.location(), n)
	}
	if n := b.count(`form[method=post]:not([action="/signout"])`); n != 0 {
		t.Errorf("%s has %d POST forms besides sign-out for helpdesk, want 0", b.location(), n)
	}
}

func TestBrowserEscapesMarkup(t *testing.T) {
	a := newBrowserApp(t)
	// user02's message with markup cannot be read, so the skip policy
	// records it, with its folder and subject, as a skipped item.
	a.src.Faults().FailFetch("user02", browserEvilFolder, a.evilUID["user02"], -1)
	job := a.createJob(t, model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicySkip, MaxBad: 5, Parallel: 2},
		browserUsers...)
	a.waitJob(t, job.ID)
	moves, err := a.db.Moves(context.Background(), job.ID)
	if err != nil {
		t.Fatal(err)
	}
	var evilMove model.Move
	for _, m := range moves {
		if m.UID == "user02" {
			evilMove = m
		}
	}
	if evilMove.Skipped != 1 {
		t.Fatalf("move of user02 = %+v, want 1 skipped item", evilMove)
	}

	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	pages := []struct {
		name, path string
		want       []string // literal texts the page must show
	}{
		{"job page", fmt.Sprintf("/jobs/%d", job.ID), nil},
		{"mailbox page", fmt.Sprintf("/moves/%d", evilMove.ID), []string{browserEvilFolder, browserEvilSubject}},
		{"user search", "/users?q=Eve", []string{browserEvilName}},
		{"user page", "/users/user02", []string{browserEvilName}},
		{"wizard search", "/wizard/users?q=Eve", []string{browserEvilName}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			b.t = t
			b.open(p.path)
			if p.name == "job page" {
				// Let the live updates arrive: they write the same texts again.
				browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`,
					func(s string) bool { return s == "live" })
			}
			text := b.text("main")
			for _, w := range p.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s does not show %q as text: %s", p.path, w, text)
				}
			}
			if n := browserEval[int](b, `document.querySelectorAll("script:not([src])").length`); n != 0 {
				t.Errorf("%s has %d inline script elements, want 0", p.path, n)
			}
			if n := browserEval[int](b, `Array.from(document.querySelectorAll("b")).filter(function(e){return e.textContent==="bold"}).length`); n != 0 {
				t.Errorf("%s turned %q into %d <b> elements", p.path, browserBold, n)
			}
		})
	}
	b.t = t
	// A dialog would have failed the test already (see newBrowser); give
	// a late one a moment on the last page.
	b.do("wait a moment", chromedp.Sleep(200*time.Millisecond))
}
