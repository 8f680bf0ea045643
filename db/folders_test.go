package db

import (
	"context"
	"testing"
)

func TestAddFolderFirstPlanWins(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	moveID := ms[0].ID

	first, err := d.AddFolder(ctx, Folder{MoveID: moveID, Source: "Sent", Target: "Sent Items",
		SpecialUse: `\Sent`, Subscribed: true, CreateState: CreateSending})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	want := Folder{ID: first.ID, MoveID: moveID, Source: "Sent", Target: "Sent Items",
		SpecialUse: `\Sent`, Subscribed: true, CreateState: CreateSending, State: FolderPending}
	if first.ID == 0 || first != want {
		t.Errorf("AddFolder() = %+v, want %+v", first, want)
	}

	// A resumed move plans again, differently: the first plan must win.
	again, err := d.AddFolder(ctx, Folder{MoveID: moveID, Source: "Sent", Target: "Sent Messages",
		NoSelect: true, CreateState: CreateExisting, State: FolderVerified})
	if err != nil {
		t.Fatalf("AddFolder(again) = %v", err)
	}
	if again != first {
		t.Errorf("AddFolder(again) = %+v, want the first plan %+v", again, first)
	}

	// Defaults, and that the same source name in another move is separate.
	_, other := mustCreateJob(t, d, "bob")
	f, err := d.AddFolder(ctx, Folder{MoveID: other[0].ID, Source: "Sent", Target: "Sent"})
	if err != nil {
		t.Fatalf("AddFolder(bob) = %v", err)
	}
	if f.ID == first.ID || f.State != FolderPending || f.CreateState != CreateExisting {
		t.Errorf("AddFolder(bob) = %+v, want a new pending folder that already existed", f)
	}

	inbox, err := d.AddFolder(ctx, Folder{MoveID: moveID, Source: "INBOX", Target: "INBOX"})
	if err != nil {
		t.Fatalf("AddFolder(INBOX) = %v", err)
	}
	fs, err := d.Folders(ctx, moveID)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	if len(fs) != 2 || fs[0] != first || fs[1] != inbox {
		t.Errorf("Folders() = %+v, want [%+v %+v] in plan order", fs, first, inbox)
	}
}

func TestSaveFolderRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	f, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "Drafts", Target: "Drafts"})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	f.Target = "Entwürfe"
	f.Subscribed = true
	f.NoSelect = true
	f.CreateState = CreateCreated
	f.SourceUIDValidity = 4294967295 // the largest UIDVALIDITY, RFC 9051 section 2.3.1.1
	f.TargetUIDValidity = 1
	f.TargetUIDFloor = 4294967294
	f.State = FolderVerified
	f.MsgsTotal = 100000
	f.BytesTotal = 1 << 40
	if err := d.SaveFolder(ctx, f); err != nil {
		t.Fatalf("SaveFolder() = %v", err)
	}
	fs, err := d.Folders(ctx, ms[0].ID)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	if len(fs) != 1 || fs[0] != f {
		t.Errorf("Folders() = %+v, want [%+v]", fs, f)
	}
}

func TestResetFolder(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	f, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "INBOX", Target: "INBOX"})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	other, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "Junk", Target: "Junk"})
	if err != nil {
		t.Fatalf("AddFolder(Junk) = %v", err)
	}
	f.SourceUIDValidity, f.TargetUIDValidity, f.TargetUIDFloor = 11, 22, 33
	f.State = FolderVerified
	f.MsgsTotal, f.BytesTotal = 2, 300
	f.CreateState = CreateCreated
	if err := d.SaveFolder(ctx, f); err != nil {
		t.Fatalf("SaveFolder() = %v", err)
	}
	if err := d.ConfirmCopies(ctx, f.ID, []Copy{{SourceUID: 1, TargetUID: 5, Size: 100}}, ms[0]); err != nil {
		t.Fatalf("ConfirmCopies() = %v", err)
	}
	if err := d.MarkSending(ctx, f.ID, []Copy{{SourceUID: 2, Size: 200}}); err != nil {
		t.Fatalf("MarkSending() = %v", err)
	}
	if err := d.MarkSending(ctx, other.ID, []Copy{{SourceUID: 9, Size: 9}}); err != nil {
		t.Fatalf("MarkSending(Junk) = %v", err)
	}

	if err := d.ResetFolder(ctx, f); err != nil {
		t.Fatalf("ResetFolder() = %v", err)
	}
	cs, err := d.Copies(ctx, f.ID)
	if err != nil {
		t.Fatalf("Copies() = %v", err)
	}
	if len(cs) != 0 {
		t.Errorf("Copies() after ResetFolder = %+v, want none", cs)
	}
	if cs, err := d.Copies(ctx, other.ID); err != nil || len(cs) != 1 {
		t.Errorf("Copies(other folder) = %+v, %v, want its one copy untouched", cs, err)
	}
	fs, err := d.Folders(ctx, ms[0].ID)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	want := f
	want.SourceUIDValidity, want.TargetUIDValidity, want.TargetUIDFloor = 0, 0, 0
	want.State = FolderPending
	if len(fs) != 2 || fs[0] != want {
		t.Errorf("Folders()[0] after ResetFolder = %+v, want %+v", fs, want)
	}
}

func TestDeleteFolder(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	_, ms := mustCreateJob(t, d, "alice")
	f, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "Old", Target: "Old"})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	if err := d.DeleteFolder(ctx, f.ID); err != nil {
		t.Fatalf("DeleteFolder() = %v", err)
	}
	fs, err := d.Folders(ctx, ms[0].ID)
	if err != nil || len(fs) != 0 {
		t.Errorf("Folders() after DeleteFolder = %+v, %v, want none", fs, err)
	}
	// Planning it again starts from scratch.
	g, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "Old", Target: "Renamed"})
	if err != nil || g.Target != "Renamed" {
		t.Errorf("AddFolder() after delete = %+v, %v, want the new plan", g, err)
	}
}
