package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/movewizard/movewizard/migrate/model"
)

// The large job page in headless Chromium: paging, the state filter, the
// search, the orders, live updates of the shown rows and the job's totals,
// and the bulk actions, all through the page as a person uses it.

// scaleQuery is the page's query string, for checks of what links keep.
func scaleQuery(b *browserTab) url.Values {
	b.t.Helper()
	v, err := url.ParseQuery(strings.TrimPrefix(browserEval[string](b, "location.search"), "?"))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// scaleRowStates is the data-state of every shown row.
func scaleRowStates(b *browserTab) []string {
	b.t.Helper()
	return browserEval[[]string](b, `Array.from(document.querySelectorAll("tr[data-move]")).map(function(r){return r.getAttribute("data-state")})`)
}

func TestBrowserLargeJobPage(t *testing.T) {
	a := newScaleApp(t, 1000)
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	page := fmt.Sprintf("/jobs/%d", a.job.ID)
	b.open(page)

	if n := b.count("tr[data-move]"); n != 50 {
		t.Errorf("job page of 1000 mailboxes shows %d rows, want 50", n)
	}
	if got := b.text("[data-testid=page-of]"); got != "Page 1 of 20" {
		t.Errorf("pager = %q, want Page 1 of 20", got)
	}
	if got := b.text("[data-testid=total-mailboxes]"); got != "1000 mailboxes" {
		t.Errorf("totals = %q, want the whole job's 1000 mailboxes", got)
	}
	browserPoll(b, "live status", `document.querySelector("[data-testid=live-status]").textContent`, func(s string) bool { return s == "live" })

	t.Run("live rows and totals", func(t *testing.T) {
		m := a.moves[0] // running, on page 1
		m.State, m.Phase, m.MsgsDone, m.BytesDone, m.FinishedAt = model.MoveDone, model.PhaseDone, m.MsgsTotal, m.BytesTotal, m.CreatedAt
		if err := a.db.SaveMove(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		a.broker.Publish(m)
		sel := fmt.Sprintf("tr[data-move='%d']", m.ID)
		browserPoll(b, "row of "+m.UID, fmt.Sprintf(`document.querySelector(%q).getAttribute("data-state")`, sel),
			func(s string) bool { return s == "done" })
		wantDone := 1
		for _, mv := range a.moves[1:] {
			if mv.State == model.MoveDone {
				wantDone++
			}
		}
		browserPoll(b, "totals by state", `document.querySelector("[data-testid=count-done]").textContent`,
			func(s string) bool { return s == fmt.Sprintf("done %d", wantDone) })
		if got := b.text("[data-testid=job-percent]"); !strings.HasSuffix(got, "%") {
			t.Errorf("job percentage = %q", got)
		}
	})

	t.Run("filter by state", func(t *testing.T) {
		b.open(page)
		b.do("choose failed", chromedp.SetValue(chromedp.CSS("[data-testid=filter-state]"), "failed"))
		b.submit("[data-testid=filter-submit]")
		if got := scaleQuery(b).Get("state"); got != "failed" {
			t.Errorf("after filtering, state=%q in the URL, want failed", got)
		}
		wantFailed := 0
		for _, m := range a.moves {
			if m.State == model.MoveFailed {
				wantFailed++
			}
		}
		for _, st := range scaleRowStates(b) {
			if st != "failed" {
				t.Errorf("filtered page shows a %s row", st)
			}
		}
		if got, want := b.text("[data-testid=moves-showing]"), fmt.Sprintf("Mailboxes 1–50 of %d.", wantFailed); got != want {
			t.Errorf("showing = %q, want %q", got, want)
		}
		b.submit("[data-testid=page-next]")
		if q := scaleQuery(b); q.Get("state") != "failed" || q.Get("page") != "2" {
			t.Errorf("next page's query = %v, want state=failed page=2", q)
		}
		if got := b.count("tr[data-move]"); got != wantFailed-50 {
			t.Errorf("page 2 of failed shows %d rows, want %d", got, wantFailed-50)
		}
	})

	t.Run("search", func(t *testing.T) {
		b.open(page)
		b.do("type search", chromedp.SendKeys(chromedp.CSS("[data-testid=filter-q]"), "00042"))
		b.submit("[data-testid=filter-submit]")
		if n := b.count("tr[data-move]"); n != 1 || b.count("[data-testid=move-u00042]") != 1 {
			t.Errorf("search 00042 shows %d rows, want only u00042", n)
		}
	})

	t.Run("sort", func(t *testing.T) {
		b.open(page + "?state=&q=")
		b.submit("[data-testid=sort-progress]")
		if q := scaleQuery(b); q.Get("sort") != "progress" || q.Get("dir") != "desc" {
			t.Errorf("after clicking Progress, query = %v, want sort=progress dir=desc", q)
		}
		if states := scaleRowStates(b); states[0] != "done" {
			t.Errorf("most progress first: the first row is %s, want done", states[0])
		}
		b.submit("[data-testid=sort-progress]")
		if q := scaleQuery(b); q.Get("dir") != "asc" {
			t.Errorf("clicking Progress again: dir=%q, want asc", q.Get("dir"))
		}
		if v := browserEval[float64](b, `document.querySelector("tr[data-move] [data-field=bar]").value`); v != 0 {
			t.Errorf("least progress first: the first row's bar is at %v, want 0", v)
		}
		b.submit("[data-testid=page-last]")
		if q := scaleQuery(b); q.Get("sort") != "progress" || q.Get("page") != "20" {
			t.Errorf("last page's query = %v, want the order kept and page=20", q)
		}
	})

	t.Run("bad query", func(t *testing.T) {
		// A bad link gets a page naming the problem, not a crash.
		resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(a.ts.URL+page+"?sort=size"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 400 || !strings.Contains(b.text("[data-testid=error-message]"), "is not an order") {
			t.Errorf("?sort=size = %d %q, want 400 naming the order", resp.Status, b.text("[data-testid=error-message]"))
		}
	})
}

func TestBrowserBulkRetry(t *testing.T) {
	a := newScaleApp(t, 120)
	b := newBrowser(t, a.ts.URL)
	b.signIn("alice", "alicepw")
	failedPage := fmt.Sprintf("/jobs/%d?state=failed", a.job.ID)
	var failed, retryable []model.Move
	for _, m := range a.moves {
		switch m.State {
		case model.MoveFailed:
			failed = append(failed, m)
			retryable = append(retryable, m)
		case model.MoveAbandoned:
			retryable = append(retryable, m)
		}
	}

	t.Run("select all, then back", func(t *testing.T) {
		b.open(failedPage)
		b.do("select all", chromedp.Click(chromedp.CSS("[data-select-all]")))
		if n := b.count("input[form=bulk]:checked"); n != len(failed) {
			t.Errorf("select all ticked %d boxes, want %d", n, len(failed))
		}
		b.submit("[data-testid=bulk-cancel]")
		if got, want := b.text("[data-testid=bulk-question]"), fmt.Sprintf("Cancel %d mailboxes?", len(failed)); got != want {
			t.Errorf("confirmation asks %q, want %q", got, want)
		}
		b.submit("[data-testid=bulk-back]")
		if q := scaleQuery(b); q.Get("state") != "failed" {
			t.Errorf("Back lands on %v, want the failed filter kept", q)
		}
		for _, m := range jobsMovesOf(t, a) {
			if m.CancelRequested {
				t.Errorf("%s has a cancel request after Back", m.UID)
			}
		}
	})

	t.Run("retry selected", func(t *testing.T) {
		b.open(failedPage)
		for _, m := range failed[:2] {
			b.do("tick "+m.UID, chromedp.Click(chromedp.CSS("[data-testid=select-"+m.UID+"]")))
		}
		b.submit("[data-testid=bulk-retry]")
		if got := b.text("[data-testid=bulk-question]"); got != "Retry 2 mailboxes?" {
			t.Errorf("confirmation asks %q, want Retry 2 mailboxes?", got)
		}
		items := b.text("[data-testid=bulk-items]")
		for _, m := range failed[:2] {
			if !strings.Contains(items, m.UID+" (failed)") {
				t.Errorf("confirmation lists %q, want %s (failed)", items, m.UID)
			}
		}
		b.submit("[data-testid=bulk-yes]")
		if got := b.text("[data-testid=flash]"); got != "Retried 2." {
			t.Errorf("flash = %q, want Retried 2.", got)
		}
		if q := scaleQuery(b); q.Get("state") != "failed" {
			t.Errorf("after retry the page is %v, want the failed filter kept", q)
		}
		if n := b.count("tr[data-move]"); n != len(failed)-2 {
			t.Errorf("failed filter after retrying 2 shows %d rows, want %d", n, len(failed)-2)
		}
		for _, m := range failed[:2] {
			got, err := a.db.Move(context.Background(), m.ID)
			if err != nil || got.State != model.MoveQueued || got.Attempt != 2 {
				t.Errorf("%s after retry = %s attempt %d (%v), want queued attempt 2", m.UID, got.State, got.Attempt, err)
			}
		}
	})

	t.Run("retry all with skip", func(t *testing.T) {
		b.open(fmt.Sprintf("/jobs/%d", a.job.ID))
		b.do("choose skip", chromedp.Click(chromedp.CSS("[data-testid=retry-policy-skip]")),
			chromedp.SetValue(chromedp.CSS("[data-testid=retry-max-bad]"), "7"))
		b.submit("[data-testid=retry-all-submit]")
		left := len(retryable) - 2
		if got, want := b.text("[data-testid=bulk-question]"), fmt.Sprintf("Retry %d mailboxes of job #%d?", left, a.job.ID); got != want {
			t.Errorf("confirmation asks %q, want %q", got, want)
		}
		if notes := b.text("[data-testid=bulk-confirm]"); !strings.Contains(notes, "skips up to 7 bad items") {
			t.Errorf("confirmation does not say the policy changes: %q", notes)
		}
		b.submit("[data-testid=bulk-yes]")
		if got, want := b.text("[data-testid=flash]"), fmt.Sprintf("Retried %d. The job now skips up to 7 bad items per mailbox.", left); got != want {
			t.Errorf("flash = %q, want %q", got, want)
		}
		if got := b.text("[data-testid=job-settings]"); !strings.Contains(got, "at most 7") {
			t.Errorf("settings after the change: %q, want the skip policy with at most 7", got)
		}
		if b.count("[data-testid=retry-all]") != 0 {
			t.Error("the page still offers Retry all with nothing left to retry")
		}
		for _, m := range jobsMovesOf(t, a) {
			if m.State == model.MoveFailed || m.State == model.MoveAbandoned {
				t.Errorf("%s is still %s after retry all", m.UID, m.State)
			}
		}
	})

	t.Run("helpdesk", func(t *testing.T) {
		h := newBrowser(t, a.ts.URL)
		h.signIn("hank", "hankpw")
		h.open(fmt.Sprintf("/jobs/%d", a.job.ID))
		for _, sel := range []string{"[data-testid=bulk-form]", "input[form=bulk]", "[data-testid=retry-all]", "[data-select-all]"} {
			if n := h.count(sel); n != 0 {
				t.Errorf("helpdesk page has %d of %s", n, sel)
			}
		}
	})
}

func jobsMovesOf(t *testing.T, a *scaleApp) []model.Move {
	t.Helper()
	moves, err := a.db.Moves(context.Background(), a.job.ID)
	if err != nil {
		t.Fatal(err)
	}
	return moves
}
