package db

import (
	"context"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestAddSkipped(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice", "bob")
	m := ms[0]
	date := time.Date(2019, 5, 6, 7, 8, 9, 0, time.FixedZone("PDT", -7*60*60))
	item := model.SkippedItem{MoveID: m.ID, Folder: "INBOX", UID: 4294967295, MessageID: "<x@example.org>",
		Subject: "Grüße", Date: date, Size: 51 << 20, Error: "APPEND: NO [TOOBIG]"}

	m.Skipped = 1
	if err := d.AddSkipped(ctx, item, m); err != nil {
		t.Fatalf("AddSkipped() = %v", err)
	}
	// A resumed move records the same item again, possibly with a new error.
	again := item
	again.Error = "APPEND: NO [LIMIT]"
	if err := d.AddSkipped(ctx, again, m); err != nil {
		t.Fatalf("AddSkipped(again) = %v", err)
	}
	other := item
	other.Folder = "Sent"
	m.Skipped = 2
	if err := d.AddSkipped(ctx, other, m); err != nil {
		t.Fatalf("AddSkipped(other folder) = %v", err)
	}
	bob := item
	bob.MoveID = ms[1].ID
	if err := d.AddSkipped(ctx, bob, ms[1]); err != nil {
		t.Fatalf("AddSkipped(bob) = %v", err)
	}

	got, err := d.Skipped(ctx, m.ID)
	if err != nil {
		t.Fatalf("Skipped() = %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("Skipped() = %+v, want 2 items", got)
	}
	want := item
	want.ID = got[0].ID
	want.Date = date.UTC()
	want.At = testNow.UTC()
	want.Error = again.Error
	if got[0] != want {
		t.Errorf("Skipped()[0] =\n%+v\nwant\n%+v", got[0], want)
	}
	if got[1].Folder != "Sent" || got[1].ID <= got[0].ID {
		t.Errorf("Skipped()[1] = %+v, want the Sent item after the INBOX one", got[1])
	}
	saved, err := d.Move(ctx, m.ID)
	if err != nil {
		t.Fatalf("Move() = %v", err)
	}
	if saved.Skipped != 2 {
		t.Errorf("Move().Skipped = %d, want 2 (saved with the item)", saved.Skipped)
	}
	if got, err := d.Skipped(ctx, ms[1].ID); err != nil || len(got) != 1 {
		t.Errorf("Skipped(bob) = %+v, %v, want 1 item", got, err)
	}
}
