package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// jobsCreateLater makes a job scheduled an hour ahead, so its moves stay
// queued for as long as the test looks at them.
func jobsCreateLater(t *testing.T, a *testApp, uids ...string) model.Job {
	t.Helper()
	j, err := a.db.CreateJob(context.Background(), model.Job{CreatedBy: "alice", Target: "dst", Policy: model.PolicySkip,
		MaxBad: 3, Parallel: 2, StartAt: time.Now().Add(time.Hour)}, uids)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func jobsMoves(t *testing.T, a *testApp, jobID int64) []model.Move {
	t.Helper()
	moves, err := a.db.Moves(context.Background(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	return moves
}

func TestJobsList(t *testing.T) {
	a := newTestApp(t)
	done := a.createJob(t, "user01", "user02")
	a.waitJob(t, done.ID)
	jobsCreateLater(t, a, "user03")
	for _, who := range []struct {
		name string
		c    *http.Client
	}{{"admin", a.admin(t)}, {"helpdesk", a.helpdesk(t)}} {
		t.Run(who.name, func(t *testing.T) {
			for _, tc := range []struct {
				query      string
				has, hasnt []string
			}{
				{"", []string{`data-testid="job-1"`, `data-testid="job-2"`, "all (2)", "done (1)", "queued (1)", "running (0)"}, nil},
				{"?state=done", []string{`data-testid="job-1"`, `data-testid="count-done"`, "done 2"}, []string{`data-testid="job-2"`}},
				{"?state=queued", []string{`data-testid="job-2"`, "queued 1", "skip bad items, at most 3"}, []string{`data-testid="job-1"`}},
				{"?state=cancelled", []string{`data-testid="no-jobs"`}, []string{`data-testid="job-1"`, `data-testid="job-2"`}},
			} {
				resp, body := a.get(t, who.c, "/jobs"+tc.query)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /jobs%s = %d, want 200", tc.query, resp.StatusCode)
				}
				for _, s := range tc.has {
					if !strings.Contains(body, s) {
						t.Errorf("GET /jobs%s lacks %q", tc.query, s)
					}
				}
				for _, s := range tc.hasnt {
					if strings.Contains(body, s) {
						t.Errorf("GET /jobs%s shows %q", tc.query, s)
					}
				}
			}
		})
	}
	if resp, _ := a.get(t, a.admin(t), "/jobs?state=bogus"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET /jobs?state=bogus = %d, want 400", resp.StatusCode)
	}
}

func TestJobPage(t *testing.T) {
	a := newTestApp(t)
	done := a.createJob(t, "user01", "user02")
	a.waitJob(t, done.ID)
	later := jobsCreateLater(t, a, "user03", "user04")
	admin, hank := a.admin(t), a.helpdesk(t)

	t.Run("admin finished job", func(t *testing.T) {
		resp, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", done.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET job page = %d, want 200", resp.StatusCode)
		}
		for _, s := range []string{`data-live-job="/jobs/1/events"`, `data-testid="move-user01"`, `data-testid="move-user02"`,
			`data-field="bar"`, "<progress", "10 / 10", "20 of 20", `href="/jobs/1/report.csv"`, `href="/jobs/1/report.json"`,
			"live.", `data-testid="job-state">done`} {
			if !strings.Contains(body, s) {
				t.Errorf("job page lacks %q", s)
			}
		}
		if strings.Contains(body, `data-testid="cancel-job"`) {
			t.Error("finished job page offers to cancel the job")
		}
		// Retry forms exist (hidden) so that live.js can show them.
		if !strings.Contains(body, `data-testid="retry-move"`) {
			t.Error("admin job page has no retry forms")
		}
	})
	t.Run("admin unfinished job", func(t *testing.T) {
		_, body := a.get(t, admin, fmt.Sprintf("/jobs/%d", later.ID))
		for _, s := range []string{`data-testid="cancel-job"`, `action="/jobs/2/cancel"`, `data-testid="cancel-move"`,
			fmt.Sprintf(`action="/moves/%d/cancel"`, jobsMoves(t, a, later.ID)[0].ID)} {
			if !strings.Contains(body, s) {
				t.Errorf("job page lacks %q", s)
			}
		}
	})
	t.Run("helpdesk sees no buttons", func(t *testing.T) {
		for _, id := range []int64{done.ID, later.ID} {
			resp, body := a.get(t, hank, fmt.Sprintf("/jobs/%d", id))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("helpdesk GET /jobs/%d = %d, want 200", id, resp.StatusCode)
			}
			if !strings.Contains(body, `data-live-job=`) {
				t.Errorf("helpdesk job page %d has no live table", id)
			}
			for _, s := range []string{"<form method=\"post\" action=\"/jobs", "/cancel", "/retry", `data-testid="cancel-job"`,
				`data-testid="cancel-move"`, `data-testid="retry-move"`} {
				if strings.Contains(body, s) {
					t.Errorf("helpdesk job page %d shows %q", id, s)
				}
			}
		}
	})
	t.Run("move page", func(t *testing.T) {
		m := jobsMoves(t, a, done.ID)[0]
		for _, c := range []*http.Client{admin, hank} {
			resp, body := a.get(t, c, fmt.Sprintf("/moves/%d", m.ID))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /moves/%d = %d, want 200", m.ID, resp.StatusCode)
			}
			for _, s := range []string{"Mailbox user01", `data-testid="move-state">done`, "10 of 10", `data-testid="events"`, `data-testid="no-skipped"`} {
				if !strings.Contains(body, s) {
					t.Errorf("move page lacks %q", s)
				}
			}
		}
		_, body := a.get(t, hank, fmt.Sprintf("/moves/%d", m.ID))
		if strings.Contains(body, "/retry") || strings.Contains(body, "/cancel") {
			t.Error("helpdesk move page shows action forms")
		}
	})
}

func TestJobsBadIDs(t *testing.T) {
	a := newTestApp(t)
	admin := a.admin(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/jobs/abc", http.StatusBadRequest},
		{"GET", "/jobs/0", http.StatusBadRequest},
		{"GET", "/jobs/999", http.StatusNotFound},
		{"GET", "/jobs/abc/report.csv", http.StatusBadRequest},
		{"GET", "/jobs/999/report.csv", http.StatusNotFound},
		{"GET", "/jobs/abc/report.json", http.StatusBadRequest},
		{"GET", "/jobs/999/report.json", http.StatusNotFound},
		{"GET", "/jobs/abc/events", http.StatusBadRequest},
		{"GET", "/jobs/999/events", http.StatusNotFound},
		{"GET", "/moves/x1", http.StatusBadRequest},
		{"GET", "/moves/999", http.StatusNotFound},
		{"POST", "/jobs/abc/cancel", http.StatusBadRequest},
		{"POST", "/jobs/999/cancel", http.StatusNotFound},
		{"POST", "/moves/abc/cancel", http.StatusBadRequest},
		{"POST", "/moves/999/cancel", http.StatusNotFound},
		{"POST", "/moves/-1/retry", http.StatusBadRequest},
		{"POST", "/moves/999/retry", http.StatusNotFound},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var resp *http.Response
			if tc.method == "GET" {
				resp, _ = a.get(t, admin, tc.path)
			} else {
				resp, _ = a.post(t, admin, tc.path, nil)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			}
		})
	}
}

func TestJobsRefusals(t *testing.T) {
	a := newTestApp(t)
	j := jobsCreateLater(t, a, "user01")
	m := jobsMoves(t, a, j.ID)[0]
	actions := []string{fmt.Sprintf("/jobs/%d/cancel", j.ID), fmt.Sprintf("/moves/%d/cancel", m.ID), fmt.Sprintf("/moves/%d/retry", m.ID)}
	hank, anon, admin := a.helpdesk(t), a.client(t, "", ""), a.admin(t)
	for _, path := range actions {
		t.Run(path, func(t *testing.T) {
			if resp, _ := a.post(t, hank, path, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("helpdesk POST %s = %d, want 403", path, resp.StatusCode)
			}
			if resp, _ := a.post(t, anon, path, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous POST %s = %d, want 401", path, resp.StatusCode)
			}
			if resp := a.crossSitePost(t, admin, path, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-site POST %s = %d, want 403", path, resp.StatusCode)
			}
		})
	}
	for _, path := range []string{"/jobs", fmt.Sprintf("/jobs/%d", j.ID), fmt.Sprintf("/moves/%d", m.ID),
		fmt.Sprintf("/jobs/%d/report.csv", j.ID)} {
		if resp, _ := a.get(t, anon, path); resp.StatusCode != http.StatusSeeOther ||
			!strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Errorf("anonymous GET %s = %d to %q, want 303 to /signin", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Nothing changed.
	if got := jobsMoves(t, a, j.ID)[0]; got.State != model.MoveQueued || got.CancelRequested {
		t.Errorf("after refused actions move = %s (cancel requested %v), want queued", got.State, got.CancelRequested)
	}
}

// jobsFollow fetches a redirect's target and returns its body.
func jobsFollow(t *testing.T, a *testApp, c *http.Client, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Path, "/jobs/") || u.Query().Get("flash") == "" {
		t.Errorf("redirect to %q, want a job page with a flash", loc)
	}
	r2, body := a.get(t, c, loc)
	if r2.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", loc, r2.StatusCode)
	}
	return body
}

// TestJobOutcomesShown: a job in which some mailboxes did not move is
// "completed with errors", one in which none moved "failed", on the jobs
// list (with its filter), the job page and the report.
func TestJobOutcomesShown(t *testing.T) {
	a := newTestApp(t)
	mixed := a.createJob(t, "user01", "nosuchuser")
	if j := a.waitJob(t, mixed.ID); j.State != model.JobDoneWithErrors {
		t.Fatalf("job of a moved and an unknown user = %s, want %s", j.State, model.JobDoneWithErrors)
	}
	none := a.createJob(t, "nosuchuser2")
	if j := a.waitJob(t, none.ID); j.State != model.JobFailed {
		t.Fatalf("job of an unknown user = %s, want %s", j.State, model.JobFailed)
	}
	c := a.helpdesk(t)
	for _, tc := range []struct {
		path       string
		has, hasnt []string
	}{
		{"/jobs", []string{"completed with errors (1)", "failed (1)", "done (0)", `class="state state-completed-with-errors">completed with errors<`}, nil},
		{"/jobs?state=completed-with-errors", []string{`data-testid="job-1"`}, []string{`data-testid="job-2"`}},
		{"/jobs?state=failed", []string{`data-testid="job-2"`}, []string{`data-testid="job-1"`}},
		{"/jobs/1", []string{`data-testid="job-state">completed with errors<`}, nil},
		{"/jobs/2", []string{`data-testid="job-state">failed<`}, nil},
		{"/jobs/1/report.json", []string{`"state": "completed-with-errors"`}, nil},
		{"/jobs/2/report.json", []string{`"state": "failed"`}, nil},
	} {
		resp, body := a.get(t, c, tc.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", tc.path, resp.StatusCode)
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("GET %s lacks %q", tc.path, s)
			}
		}
		for _, s := range append(tc.hasnt, "templ-css-class-unknown-type") {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows %q", tc.path, s)
			}
		}
	}
	resp, body := a.get(t, c, "/jobs?state=finished")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "completed-with-errors, failed or cancelled") {
		t.Errorf("GET /jobs?state=finished = %d, want 400 naming the states", resp.StatusCode)
	}
}

// TestScheduledJobStartsIn: a job waiting for its start time says when it
// starts on the jobs list, its page and the helpdesk's user page; an
// unknown uid is named as such.
func TestScheduledJobStartsIn(t *testing.T) {
	a := newTestApp(t)
	j := jobsCreateLater(t, a, "user03")
	c := a.helpdesk(t)
	for _, tc := range []struct{ path, testid, text string }{
		{"/jobs", "starts-" + fmt.Sprint(j.ID), " (in "},
		{fmt.Sprintf("/jobs/%d", j.ID), "job-starts", "its mailboxes wait until then"},
		{"/users/user03", "user-current-starts", "its job starts "},
	} {
		_, body := a.get(t, c, tc.path)
		i := strings.Index(body, `data-testid="`+tc.testid+`"`)
		if i < 0 {
			t.Errorf("GET %s has no %s", tc.path, tc.testid)
			continue
		}
		if line := body[i:min(len(body), i+200)]; !strings.Contains(line, tc.text) || !strings.Contains(line, "starts") {
			t.Errorf("GET %s: %s = %q, want %q", tc.path, tc.testid, line, tc.text)
		}
	}
	if resp := a.crossSitePost(t, a.admin(t), fmt.Sprintf("/jobs/%d/start-now", j.ID), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site start-now = %d, want 403", resp.StatusCode)
	}
	if resp, _ := a.post(t, c, fmt.Sprintf("/jobs/%d/start-now", j.ID), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("helpdesk's start-now = %d, want 403", resp.StatusCode)
	}
	resp, _ := a.post(t, a.admin(t), fmt.Sprintf("/jobs/%d/start-now", j.ID), nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || flashOf(t, loc) != fmt.Sprintf("Job %d starts now.", j.ID) {
		t.Fatalf("start-now = %d to %q, want 303 with its flash", resp.StatusCode, loc)
	}
	if got := a.waitJob(t, j.ID); got.State != model.JobDone {
		t.Errorf("job started now = %s, want done", got.State)
	}
	if resp, _ := a.post(t, a.admin(t), fmt.Sprintf("/jobs/%d/start-now", j.ID), nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("start-now of a finished job = %d, want 409", resp.StatusCode)
	}
	resp, body := a.get(t, c, "/users/nosuchuser")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "There is no user &#34;nosuchuser&#34; in the directory") {
		t.Errorf("GET /users/nosuchuser = %d, want 404 naming the user", resp.StatusCode)
	}
}
