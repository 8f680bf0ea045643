package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
	"github.com/movewizard/movewizard/web/format"
)

// stageLater creates a staged job that waits for its start time an hour
// ahead, so that the runner leaves its moves alone and a test sets their
// states itself (stageSynced).
func stageLater(t *testing.T, a *testApp, completeAt time.Time, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicyAbandon,
		Parallel: 2, StartAt: time.Now().Add(time.Hour), Stage: true, CompleteAt: completeAt}, uids)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// stageSynced stores a move as a staged move parked after its syncs.
func stageSynced(t *testing.T, a *testApp, m model.Move, at time.Time, syncs int) model.Move {
	t.Helper()
	m.State, m.Phase, m.LastSyncAt, m.Syncs = model.MoveSynced, model.PhaseResync, at, syncs
	m.StartedAt, m.MsgsTotal, m.MsgsDone, m.BytesTotal, m.BytesDone = at.Add(-time.Minute), 10, 10, 1000, 1000
	if err := a.db.SaveMove(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// completeButtonHidden reports whether the page's Complete now button of
// move id is there but hidden (live.js shows it by state).
func completeButtonHidden(t *testing.T, body string, id int64) bool {
	t.Helper()
	re := regexp.MustCompile(`<span data-when="[^"]*" data-unless-phase="[^"]*"( hidden)?><form class="inline" method="get" action="/moves/` +
		fmt.Sprint(id) + `/complete"`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no Complete now button for move %d", id)
	}
	return m[1] != ""
}

// esc is how templ writes text into the page.
func esc(s string) string { return html.EscapeString(s) }

func TestStagedJobPages(t *testing.T) {
	a := newTestApp(t)
	admin, help := a.admin(t), a.helpdesk(t)
	completeAt := time.Now().Add(4*24*time.Hour + 3*time.Hour + 10*time.Minute).Truncate(time.Second)
	j := stageLater(t, a, completeAt, "user01", "user02", "user03")
	moves := jobsMoves(t, a, j.ID)
	synced := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	m1 := stageSynced(t, a, moves[0], synced, 3)
	stageSynced(t, a, moves[1], synced, 1)
	waiting := stageLater(t, a, time.Time{}, "user04")
	stageSynced(t, a, jobsMoves(t, a, waiting.ID)[0], synced, 2)

	t.Run("job page", func(t *testing.T) {
		resp, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", j.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET job page = %d", resp.StatusCode)
		}
		wantContains(t, "staged job page", body,
			`data-testid="job-mode">sync, then wait to complete`,
			`data-testid="job-completes">completes `+format.Time(completeAt)+" (in 4d 3h)",
			`data-field="state">synced, waiting to complete<`,
			`data-testid="synced-user01">last synced `+format.Time(synced)+" · 3 syncs<",
			`data-testid="synced-user02">last synced `+format.Time(synced)+" · 1 sync<",
			`data-testid="count-synced">2 synced, waiting<`, `data-testid="count-queued">queued 1<`,
			`<option value="synced">synced, waiting to complete (2)</option>`,
			`data-testid="complete-job"`, `data-testid="bulk-complete"`, `data-testid="complete-move"`)
		_, body = a.get(t, help, fmt.Sprintf("/jobs/%d", j.ID))
		wantContains(t, "helpdesk's job page", body, `data-field="state">synced, waiting to complete<`)
		wantNotContains(t, "helpdesk's job page", body, `data-testid="complete-job"`, `data-testid="complete-move"`)
		_, body = a.get(t, admin, fmt.Sprintf("/jobs/%d", waiting.ID))
		wantContains(t, "job waiting for an admin", body, `data-testid="job-completes">waits for an admin to complete it<`)
	})
	t.Run("state filter", func(t *testing.T) {
		resp, body := a.get(t, admin, fmt.Sprintf("/jobs/%d?state=synced", j.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET ?state=synced = %d; body %s", resp.StatusCode, body)
		}
		wantContains(t, "synced rows", body, `data-testid="move-user01"`, `data-testid="move-user02"`, "Mailboxes 1–2 of 2.")
		wantNotContains(t, "synced rows", body, `data-testid="move-user03"`)
	})
	t.Run("jobs list", func(t *testing.T) {
		_, body := a.get(t, admin, "/jobs")
		wantContains(t, "jobs list", body, fmt.Sprintf(`data-testid="staged-%d">staged<`, j.ID),
			fmt.Sprintf(`data-testid="staged-%d">staged<`, waiting.ID), `data-testid="count-synced">2 synced, waiting<`)
	})
	t.Run("mailbox page", func(t *testing.T) {
		_, body := a.get(t, admin, fmt.Sprintf("/moves/%d", m1.ID))
		wantContains(t, "mailbox page", body, `data-testid="move-state">synced, waiting to complete<`,
			`data-testid="move-last-sync">`+format.Time(synced)+"<", `data-testid="move-syncs">3<`,
			`data-testid="move-completion">not requested; the job completes `+format.Time(completeAt),
			`data-testid="move-cutover">—<`)
		if completeButtonHidden(t, body, m1.ID) {
			t.Error("mailbox page of a synced move hides Complete now")
		}
		_, body = a.get(t, help, fmt.Sprintf("/moves/%d", m1.ID))
		wantNotContains(t, "helpdesk's mailbox page", body, `data-testid="complete-move"`)
	})
	t.Run("user page", func(t *testing.T) {
		_, body := a.get(t, help, "/users/user01")
		wantContains(t, "helpdesk's user page", body, `data-testid="user-current-state">synced, waiting to complete<`,
			`data-testid="user-current-synced">, last synced at `+format.Time(synced)+"<",
			`data-testid="user-current-completes">; it completes `+format.Time(completeAt)+" (in 4d 3h)<")
		_, body = a.get(t, help, "/users/user04")
		wantContains(t, "user page of a job without completion time", body,
			`data-testid="user-current-completes">; it waits for an admin to complete it<`)
	})
}

// stageFollow follows a redirect with a flash and returns the page.
func stageFollow(t *testing.T, a *testApp, c *http.Client, resp *http.Response, wantPath string) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != wantPath || u.Query().Get("flash") == "" {
		t.Errorf("redirect to %q, want %s with a flash", loc, wantPath)
	}
	r2, body := a.get(t, c, loc)
	if r2.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", loc, r2.StatusCode)
	}
	return body
}

func TestCompleteNow(t *testing.T) {
	a := newTestApp(t)
	admin, help := a.admin(t), a.helpdesk(t)
	ctx := context.Background()
	j := stageLater(t, a, time.Time{}, "user01", "user02")
	moves := jobsMoves(t, a, j.ID)
	synced := time.Now().Add(-time.Minute)
	stageSynced(t, a, moves[0], synced, 1)
	plain := jobsCreateLater(t, a, "user03")
	plainMove := jobsMoves(t, a, plain.ID)[0]
	jobPath, plainPath := fmt.Sprintf("/jobs/%d/complete", j.ID), fmt.Sprintf("/jobs/%d/complete", plain.ID)
	movePath := fmt.Sprintf("/moves/%d/complete", moves[0].ID)

	t.Run("not for helpdesk", func(t *testing.T) {
		for _, p := range []string{jobPath, movePath} {
			if resp, _ := a.get(t, help, p); resp.StatusCode != http.StatusForbidden {
				t.Errorf("helpdesk GET %s = %d, want 403", p, resp.StatusCode)
			}
			if resp, _ := a.post(t, help, p, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("helpdesk POST %s = %d, want 403", p, resp.StatusCode)
			}
		}
	})
	t.Run("not cross-site", func(t *testing.T) {
		for _, p := range []string{jobPath, movePath} {
			if resp := a.crossSitePost(t, admin, p, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-site POST %s = %d, want 403", p, resp.StatusCode)
			}
		}
		if m, _ := a.db.Move(ctx, moves[0].ID); m.CompleteRequested {
			t.Error("a refused request asked the move to complete")
		}
	})
	t.Run("not staged", func(t *testing.T) {
		want := fmt.Sprintf("Job %d is not staged: its mailboxes move in one go (copy, switch, remove) and complete by themselves; there is nothing to complete.", plain.ID)
		resp, body := a.get(t, admin, plainPath)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `data-testid="complete-refused">`+esc(want)) {
			t.Errorf("GET %s = %d, want 409 saying %q; body %s", plainPath, resp.StatusCode, want, body)
		}
		wantNotContains(t, "refusal", body, `data-testid="complete-yes"`)
		resp, body = a.post(t, admin, plainPath, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, esc(want)) {
			t.Errorf("POST %s = %d, want 409 saying %q; body %s", plainPath, resp.StatusCode, want, body)
		}
		p := fmt.Sprintf("/moves/%d/complete", plainMove.ID)
		wantMove := fmt.Sprintf("user03's move is not staged (job %d moves in one go); it completes by itself, there is nothing to complete.", plain.ID)
		resp, body = a.post(t, admin, p, nil)
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, esc(wantMove)) {
			t.Errorf("POST %s = %d, want 409 saying %q; body %s", p, resp.StatusCode, wantMove, body)
		}
		resp, body = a.post(t, admin, fmt.Sprintf("/jobs/%d/moves", plain.ID), url.Values{"action": {"complete"}, "move": {fmt.Sprint(plainMove.ID)}})
		if resp.StatusCode != http.StatusConflict || !strings.Contains(body, esc(want)) {
			t.Errorf("bulk complete of a job not staged = %d, want 409 saying %q; body %s", resp.StatusCode, want, body)
		}
		if m, _ := a.db.Move(ctx, plainMove.ID); m.CompleteRequested {
			t.Error("a move of a job not staged was asked to complete")
		}
	})
	t.Run("one mailbox", func(t *testing.T) {
		resp, body := a.get(t, admin, movePath)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d; body %s", movePath, resp.StatusCode, body)
		}
		wantContains(t, "confirmation", body, "Complete the move of user01 now?",
			"last sync, the directory switch, the final delta", "then the source is removed", `data-testid="complete-yes"`,
			`action="`+movePath+`"`)
		if m, _ := a.db.Move(ctx, moves[0].ID); m.CompleteRequested {
			t.Fatal("the confirmation page asked the move to complete")
		}
		resp, _ = a.post(t, admin, movePath, nil)
		body = stageFollow(t, a, admin, resp, fmt.Sprintf("/moves/%d", moves[0].ID))
		wantContains(t, "mailbox page after Complete now", body,
			esc("user01's move is asked to complete: a last sync, the directory switch, the final delta, then the source is removed."),
			`data-testid="move-completion">requested<`)
		if !completeButtonHidden(t, body, moves[0].ID) {
			t.Error("mailbox page after Complete now shows the Complete now button")
		}
		m, err := a.db.Move(ctx, moves[0].ID)
		if err != nil || !m.CompleteRequested {
			t.Fatalf("move after Complete now: requested %v, %v; want requested", m.CompleteRequested, err)
		}
		resp, body = a.get(t, admin, movePath)
		if want := "user01&#39;s move is completing already."; resp.StatusCode != http.StatusConflict || !strings.Contains(body, want) {
			t.Errorf("GET %s again = %d, want 409 saying %q", movePath, resp.StatusCode, want)
		}
		resp, body = a.post(t, admin, movePath, nil)
		if want := "user01&#39;s move is completing already."; resp.StatusCode != http.StatusConflict || !strings.Contains(body, want) {
			t.Errorf("POST %s again = %d, want 409 saying %q", movePath, resp.StatusCode, want)
		}
	})
	t.Run("selected mailboxes", func(t *testing.T) {
		form := url.Values{"action": {"complete"}, "move": {fmt.Sprint(moves[0].ID), fmt.Sprint(moves[1].ID)}}
		resp, body := a.post(t, admin, fmt.Sprintf("/jobs/%d/moves", j.ID), form)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("bulk complete = %d, want the confirmation; body %s", resp.StatusCode, body)
		}
		wantContains(t, "bulk confirmation", body, "Complete 2 mailboxes?", "user01 (synced, waiting to complete)",
			"user02 (queued)", "then the source is removed", `data-testid="bulk-yes"`)
		form.Set("confirm", "yes")
		resp, _ = a.post(t, admin, fmt.Sprintf("/jobs/%d/moves", j.ID), form)
		body = jobsFollow(t, a, admin, resp)
		wantContains(t, "job page after bulk complete", body, "Completing 1; 1 were completing already (user01).")
		if m, _ := a.db.Move(ctx, moves[1].ID); !m.CompleteRequested {
			t.Error("user02 was not asked to complete")
		}
	})
	t.Run("whole job", func(t *testing.T) {
		j2 := stageLater(t, a, time.Time{}, "user04", "user05")
		m2 := jobsMoves(t, a, j2.ID)
		stageSynced(t, a, m2[0], synced, 2)
		p := fmt.Sprintf("/jobs/%d/complete", j2.ID)
		resp, body := a.get(t, admin, p)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d; body %s", p, resp.StatusCode, body)
		}
		wantContains(t, "job confirmation", body, fmt.Sprintf("Complete job #%d now?", j2.ID),
			"last sync, the directory switch, the final delta", "1 mailbox synced and waiting will complete now.",
			"1 mailbox still syncing or queued will complete as soon as it is synced.", `data-testid="complete-yes"`)
		resp, _ = a.post(t, admin, p, nil)
		body = jobsFollow(t, a, admin, resp)
		wantContains(t, "job page after Complete now", body, fmt.Sprintf("Job %d: 2 mailboxes asked to complete;", j2.ID))
		for _, m := range jobsMoves(t, a, j2.ID) {
			if !m.CompleteRequested {
				t.Errorf("%s was not asked to complete", m.UID)
			}
		}
		events, err := a.db.Events(ctx, m2[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(events, func(e model.Event) bool {
			return e.Kind == "complete" && e.Message == "completion requested by alice"
		}) {
			t.Errorf("events of user04 = %+v, want the completion request by alice", events)
		}
		resp, _ = a.post(t, admin, p, nil)
		body = jobsFollow(t, a, admin, resp)
		wantContains(t, "job page after a second Complete now", body,
			fmt.Sprintf("Job %d: every unfinished mailbox is completing or being cancelled already.", j2.ID))
	})
	t.Run("bad and missing", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want int
		}{{"/moves/abc/complete", http.StatusBadRequest}, {"/moves/999/complete", http.StatusNotFound},
			{"/jobs/abc/complete", http.StatusBadRequest}, {"/jobs/999/complete", http.StatusNotFound}} {
			if resp, _ := a.get(t, admin, tc.path); resp.StatusCode != tc.want {
				t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
			if resp, _ := a.post(t, admin, tc.path, nil); resp.StatusCode != tc.want {
				t.Errorf("POST %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		}
	})
}

func TestStagedReports(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	ctx := context.Background()
	completeAt := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	j := stageLater(t, a, completeAt, "user01", "user02")
	moves := jobsMoves(t, a, j.ID)
	synced := time.Now().Add(-time.Hour).Truncate(time.Second)
	stageSynced(t, a, moves[0], synced, 4)
	// user02 completed: a cut-over window of 2.3 s.
	done := stageSynced(t, a, moves[1], synced, 2)
	done.State, done.Phase = model.MoveDone, model.PhaseDone
	done.DirectoryUpdated = synced.Add(10 * time.Minute)
	done.DeltaDoneAt = done.DirectoryUpdated.Add(2300 * time.Millisecond)
	done.FinishedAt = done.DeltaDoneAt.Add(time.Second)
	if err := a.db.SaveMove(ctx, done); err != nil {
		t.Fatal(err)
	}

	t.Run("json", func(t *testing.T) {
		resp, body := a.get(t, admin, fmt.Sprintf("/jobs/%d/report.json", j.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET report.json = %d", resp.StatusCode)
		}
		var rep struct {
			Job struct {
				Stage      bool   `json:"stage"`
				CompleteAt string `json:"complete_at"`
			} `json:"job"`
			Mailboxes []struct {
				UID        string          `json:"uid"`
				Outcome    string          `json:"outcome"`
				LastSyncAt string          `json:"last_sync_at"`
				Syncs      int             `json:"syncs"`
				Window     json.RawMessage `json:"cutover_window_ms"`
			} `json:"mailboxes"`
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("report.json: %v; body %s", err, body)
		}
		if !rep.Job.Stage || rep.Job.CompleteAt != completeAt.UTC().Format(time.RFC3339) {
			t.Errorf("report job = stage %v, complete_at %q; want true, %s", rep.Job.Stage, rep.Job.CompleteAt, completeAt.UTC().Format(time.RFC3339))
		}
		if len(rep.Mailboxes) != 2 {
			t.Fatalf("report mailboxes = %+v, want 2", rep.Mailboxes)
		}
		wantSync := synced.UTC().Format(time.RFC3339)
		if m := rep.Mailboxes[0]; m.UID != "user01" || m.Outcome != "synced" || m.LastSyncAt != wantSync || m.Syncs != 4 || string(m.Window) != "null" {
			t.Errorf("report of user01 = %+v (window %s), want synced at %s, 4 syncs, window null", m, m.Window, wantSync)
		}
		if m := rep.Mailboxes[1]; m.UID != "user02" || m.Outcome != "done" || m.Syncs != 2 || string(m.Window) != "2300" {
			t.Errorf("report of user02 = %+v (window %s), want done, 2 syncs, window 2300", m, m.Window)
		}
	})
	t.Run("csv", func(t *testing.T) {
		resp, body := a.get(t, admin, fmt.Sprintf("/jobs/%d/report.csv", j.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET report.csv = %d", resp.StatusCode)
		}
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := func(name string) int { return slices.Index(rows[0], name) }
		ls, sy, cw := col("last_sync_at"), col("syncs"), col("cutover_window_ms")
		if ls < 0 || sy < 0 || cw < 0 || len(rows) < 3 {
			t.Fatalf("report.csv header %v (%d rows), want last_sync_at, syncs, cutover_window_ms", rows[0], len(rows))
		}
		if r := rows[1]; r[1] != "user01" || r[ls] != synced.UTC().Format(time.RFC3339) || r[sy] != "4" || r[cw] != "" {
			t.Errorf("csv row of user01 = %v", r)
		}
		if r := rows[2]; r[1] != "user02" || r[sy] != "2" || r[cw] != "2300" {
			t.Errorf("csv row of user02 = %v", r)
		}
	})
	t.Run("pages", func(t *testing.T) {
		_, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", j.ID))
		wantContains(t, "job page", body, `data-testid="cutover-user02">cut-over 2s<`)
		wantNotContains(t, "job page", body, `data-testid="cutover-user01"`)
		_, body = a.get(t, admin, fmt.Sprintf("/moves/%d", done.ID))
		wantContains(t, "mailbox page", body, `data-testid="move-cutover">2s<`, `data-testid="move-completion">—<`)
		if !completeButtonHidden(t, body, done.ID) {
			t.Error("mailbox page of a finished move shows the Complete now button")
		}
	})
}

func TestCutoverWindowText(t *testing.T) {
	at := time.Date(2026, 12, 12, 22, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		delta time.Duration
		want  string
	}{{0, "—"}, {400 * time.Millisecond, "400ms"}, {2300 * time.Millisecond, "2s"}, {75 * time.Second, "1m 15s"}, {-time.Second, "—"}} {
		m := model.Move{DirectoryUpdated: at, DeltaDoneAt: at.Add(tc.delta)}
		if got := web.CutoverWindow(m); got != tc.want {
			t.Errorf("CutoverWindow(%v) = %q, want %q", tc.delta, got, tc.want)
		}
	}
	if got := web.CutoverWindow(model.Move{DeltaDoneAt: at}); got != "—" {
		t.Errorf("CutoverWindow(no directory update) = %q, want —", got)
	}
}
