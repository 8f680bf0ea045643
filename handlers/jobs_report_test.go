package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// jobsAddSkipped records a skipped item on a finished move, as the error
// policy would have.
func jobsAddSkipped(t *testing.T, a *testApp, m model.Move, subject, errText string) {
	t.Helper()
	m.Skipped++
	item := model.SkippedItem{MoveID: m.ID, Folder: "INBOX", UID: uint32(100 + m.Skipped), MessageID: "<bad@example.org>",
		Subject: subject, Date: time.Date(2021, 2, 3, 4, 5, 6, 0, time.UTC), Size: 1234, Error: errText}
	if err := a.db.AddSkipped(context.Background(), item, m); err != nil {
		t.Fatal(err)
	}
}

// jobsFinishedJob runs a job of user01 and user02 to the end and returns it
// with user01's move failed, as if its target had refused it.
func jobsFinishedJob(t *testing.T, a *testApp) (model.Job, []model.Move) {
	t.Helper()
	j := a.createJob(t, "user01", "user02")
	a.waitJob(t, j.ID)
	moves := jobsMoves(t, a, j.ID)
	moves[0].State, moves[0].Error = model.MoveFailed, "target refused: <script>alert(1)</script>"
	if err := a.db.SaveMove(context.Background(), moves[0]); err != nil {
		t.Fatal(err)
	}
	return j, jobsMoves(t, a, j.ID)
}

func TestJobReportCSV(t *testing.T) {
	a := newTestApp(t)
	j, moves := jobsFinishedJob(t, a)
	jobsAddSkipped(t, a, moves[1], "=HYPERLINK(\"http://evil.example\",\"click\")", "-read failed")
	resp, body := a.get(t, a.helpdesk(t), fmt.Sprintf("/jobs/%d/report.csv", j.ID))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET report.csv = %d, want 200", resp.StatusCode)
	}
	want := fmt.Sprintf(`attachment; filename="job-%d-report.csv"`, j.ID)
	if got := resp.Header.Get("Content-Disposition"); got != want {
		t.Errorf("Content-Disposition = %q, want %q", got, want)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, body)
	}
	header := map[string]int{}
	for i, h := range rows[0] {
		header[h] = i
	}
	cell := func(row []string, col string) string {
		i, ok := header[col]
		if !ok {
			t.Fatalf("CSV has no column %q", col)
		}
		return row[i]
	}
	byRecord := map[string][][]string{}
	for _, row := range rows[1:] {
		byRecord[cell(row, "record")] = append(byRecord[cell(row, "record")], row)
	}
	t.Run("mailboxes", func(t *testing.T) {
		if got := len(byRecord["mailbox"]); got != len(moves) {
			t.Fatalf("mailbox rows = %d, want %d", got, len(moves))
		}
		for i, row := range byRecord["mailbox"] {
			if cell(row, "uid") != moves[i].UID || cell(row, "outcome") != string(moves[i].State) {
				t.Errorf("mailbox row %d = %s %s, want %s %s", i, cell(row, "uid"), cell(row, "outcome"), moves[i].UID, moves[i].State)
			}
		}
		if got := cell(byRecord["mailbox"][1], "messages_copied"); got != "10" {
			t.Errorf("user02 messages_copied = %q, want 10", got)
		}
	})
	t.Run("formula injection", func(t *testing.T) {
		if len(byRecord["skipped"]) != 1 {
			t.Fatalf("skipped rows = %d, want 1", len(byRecord["skipped"]))
		}
		row := byRecord["skipped"][0]
		if got, want := cell(row, "subject"), "'=HYPERLINK(\"http://evil.example\",\"click\")"; got != want {
			t.Errorf("subject cell = %q, want %q", got, want)
		}
		if got, want := cell(row, "error"), "'-read failed"; got != want {
			t.Errorf("error cell = %q, want %q", got, want)
		}
	})
	t.Run("client settings", func(t *testing.T) {
		// Only user02 is done; src and dst listen on different ports.
		rows := byRecord["client-settings"]
		if len(rows) != 1 || cell(rows[0], "uid") != "user02" {
			t.Fatalf("client-settings rows = %v, want one for user02", rows)
		}
		if cell(rows[0], "old_server") != "src" || cell(rows[0], "new_address") != a.cfg.Servers[1].Address {
			t.Errorf("client-settings row = %v, want src to %s", rows[0], a.cfg.Servers[1].Address)
		}
	})
}

func TestJobReportJSON(t *testing.T) {
	a := newTestApp(t)
	j, moves := jobsFinishedJob(t, a)
	jobsAddSkipped(t, a, moves[1], "broken one", "read failed twice")
	resp, body := a.get(t, a.admin(t), fmt.Sprintf("/jobs/%d/report.json", j.ID))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET report.json = %d, want 200", resp.StatusCode)
	}
	if got, want := resp.Header.Get("Content-Disposition"), fmt.Sprintf(`attachment; filename="job-%d-report.json"`, j.ID); got != want {
		t.Errorf("Content-Disposition = %q, want %q", got, want)
	}
	var rep struct {
		Job       struct{ ID int64 }
		Mailboxes []struct {
			UID             string
			Outcome         string
			MessagesCopied  int64   `json:"messages_copied"`
			DurationSeconds float64 `json:"duration_seconds"`
			Error           string
			SkippedItems    []struct{ Subject, Folder string } `json:"skipped_items"`
		}
		ClientSettings []struct {
			UID       string
			OldServer string `json:"old_server"`
			NewServer string `json:"new_server"`
		} `json:"client_settings"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, body)
	}
	if rep.Job.ID != j.ID || len(rep.Mailboxes) != 2 {
		t.Fatalf("report of job %d with %d mailboxes, want job %d with 2", rep.Job.ID, len(rep.Mailboxes), j.ID)
	}
	if m := rep.Mailboxes[0]; m.UID != "user01" || m.Outcome != string(model.MoveFailed) || !strings.Contains(m.Error, "target refused") {
		t.Errorf("mailbox 0 = %+v, want user01 failed with its error", m)
	}
	if m := rep.Mailboxes[1]; m.UID != "user02" || m.Outcome != string(model.MoveDone) || m.MessagesCopied != 10 ||
		len(m.SkippedItems) != 1 || m.SkippedItems[0].Subject != "broken one" || m.DurationSeconds <= 0 {
		t.Errorf("mailbox 1 = %+v, want user02 done, 10 messages, one skipped item, a duration", m)
	}
	if len(rep.ClientSettings) != 1 || rep.ClientSettings[0].UID != "user02" ||
		rep.ClientSettings[0].OldServer != "src" || rep.ClientSettings[0].NewServer != "dst" {
		t.Errorf("client settings = %+v, want user02 from src to dst", rep.ClientSettings)
	}
}

func TestJobsEscapeMailText(t *testing.T) {
	a := newTestApp(t)
	j, moves := jobsFinishedJob(t, a)
	jobsAddSkipped(t, a, moves[1], "<script>alert(1)</script>", "bad")
	const raw, escaped = "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"
	for _, path := range []string{fmt.Sprintf("/jobs/%d", j.ID), fmt.Sprintf("/moves/%d", moves[0].ID), fmt.Sprintf("/moves/%d", moves[1].ID)} {
		t.Run(path, func(t *testing.T) {
			resp, body := a.get(t, a.helpdesk(t), path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d", path, resp.StatusCode)
			}
			if strings.Contains(body, raw) {
				t.Errorf("GET %s contains the raw script tag", path)
			}
			if !strings.Contains(body, escaped) {
				t.Errorf("GET %s lacks the escaped text", path)
			}
		})
	}
}
