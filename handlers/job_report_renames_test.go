package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
)

// TestJobReportRenamedFolders: folders the target refused and the move
// created under look-alike names are in both reports and on the mailbox
// page, escaped.
func TestJobReportRenamedFolders(t *testing.T) {
	a := newTestApp(t)
	j, moves := jobsFinishedJob(t, a)
	fr := migrate.FolderRename{Source: "<img src=x onerror=alert(1)>", Target: "INBOX.‹img src=x onerror=alert(1)›",
		Reason: `the target refused "INBOX.<img src=x onerror=alert(1)>" (imap: NO Invalid mailbox name)`}
	if err := a.db.AddEvent(context.Background(), j.ID, moves[1].ID, migrate.EventFolderRenamed, fr.Message()); err != nil {
		t.Fatal(err)
	}

	t.Run("json", func(t *testing.T) {
		resp, body := a.get(t, a.helpdesk(t), fmt.Sprintf("/jobs/%d/report.json", j.ID))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET report.json = %d, want 200", resp.StatusCode)
		}
		var rep struct {
			Mailboxes []struct {
				UID     string
				Renamed []struct {
					Source string `json:"source_folder"`
					Target string `json:"target_folder"`
					Reason string
				} `json:"renamed_folders"`
			}
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("decode report: %v\n%s", err, body)
		}
		if len(rep.Mailboxes) != 2 || rep.Mailboxes[0].Renamed == nil || len(rep.Mailboxes[0].Renamed) != 0 {
			t.Fatalf("mailboxes = %+v, want user01 with an empty list of renames", rep.Mailboxes)
		}
		got := rep.Mailboxes[1].Renamed
		if len(got) != 1 || got[0].Source != fr.Source || got[0].Target != fr.Target || got[0].Reason != fr.Reason {
			t.Errorf("user02 renamed_folders = %+v, want %+v", got, fr)
		}
	})

	t.Run("csv", func(t *testing.T) {
		_, body := a.get(t, a.helpdesk(t), fmt.Sprintf("/jobs/%d/report.csv", j.ID))
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatalf("parse CSV: %v\n%s", err, body)
		}
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		var renamed [][]string
		for _, r := range rows[1:] {
			if r[col["record"]] == "folder-renamed" {
				renamed = append(renamed, r)
			}
		}
		if len(renamed) != 1 {
			t.Fatalf("folder-renamed rows = %q, want 1", renamed)
		}
		r := renamed[0]
		if r[col["uid"]] != "user02" || r[col["folder"]] != fr.Source || r[col["target_folder"]] != fr.Target || r[col["reason"]] != fr.Reason {
			t.Errorf("folder-renamed row = %q, want user02 %q -> %q (%s)", r, fr.Source, fr.Target, fr.Reason)
		}
	})

	t.Run("mailbox page", func(t *testing.T) {
		_, body := a.get(t, a.helpdesk(t), fmt.Sprintf("/moves/%d", moves[1].ID))
		if strings.Contains(body, "<img src=x") {
			t.Error("mailbox page contains the raw folder name markup")
		}
		if !strings.Contains(body, migrate.EventFolderRenamed) || !strings.Contains(body, "‹img src=x onerror=alert(1)›") {
			t.Error("mailbox page lacks the rename event")
		}
	})
}
