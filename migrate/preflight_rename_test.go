package migrate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
)

// TestCheckMoveWarnsOfRefusableNames: the wizard's preflight names the
// folders whose names hold characters some targets refuse.
func TestCheckMoveWarnsOfRefusableNames(t *testing.T) {
	e, dir, _ := checkEnv(t)
	for _, name := range []string{"<img src=x onerror=alert(1)>", "Projects", "Projects.100% done", `Projects.Say "hi"`, "Plain & simple"} {
		if err := e.src.CreateMailbox("u1", name, ""); err != nil {
			t.Fatal(err)
		}
	}
	got := migrate.CheckMove(context.Background(), e.cfg, dir, "u1", "dst")
	if !got.OK() || len(got.Warnings) != 1 {
		t.Fatalf("CheckMove() errors %q warnings %q, want one warning", got.Errors, got.Warnings)
	}
	w := got.Warnings[0]
	for _, want := range []string{"3 folder names", `"<img src=x onerror=alert(1)>"`, `"Projects.100% done"`, `"Projects.Say \"hi\""`, "Cyrus", "may be renamed"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	for _, not := range []string{"Plain", `"Projects"`, "INBOX", "Work"} {
		if strings.Contains(w, not) {
			t.Errorf("warning %q names %q", w, not)
		}
	}
}
