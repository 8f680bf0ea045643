package migrate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
)

// TestCheckMoveWarnsOfRefusableNames: the wizard's preflight names the
// folders whose names hold characters some targets refuse, as a note: the
// move is expected to work all the same.
func TestCheckMoveWarnsOfRefusableNames(t *testing.T) {
	e, dir, _ := checkEnv(t)
	for _, name := range []string{"<img src=x onerror=alert(1)>", "Projects", "Projects.100% done", `Projects.Say "hi"`, "Plain & simple"} {
		if err := e.src.CreateMailbox("u1", name, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := migrate.CheckMove(context.Background(), e.cfg, dir, "u1", "dst")
	if !got.OK() || len(got.Warnings) != 0 || len(got.Notes) != 1 {
		t.Fatalf("CheckMove() errors %q warnings %q notes %q, want one note only", got.Errors, got.Warnings, got.Notes)
	}
	w := got.Notes[0]
	for _, want := range []string{"3 folder names", `"<img src=x onerror=alert(1)>"`, `"Projects.100% done"`, `"Projects.Say \"hi\""`, "Cyrus", "may be renamed"} {
		if !strings.Contains(w, want) {
			t.Errorf("note %q lacks %q", w, want)
		}
	}
	for _, not := range []string{"Plain", `"Projects"`, "INBOX", "Work"} {
		if strings.Contains(w, not) {
			t.Errorf("note %q names %q", w, not)
		}
	}
}
