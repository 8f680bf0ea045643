package web

import (
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
)

// A preflight note (folders that may be renamed) is shown but leaves the
// row's status alone; a warning still makes it "warning".
func TestPreflightRowNotes(t *testing.T) {
	note := `1 folder name has characters that some servers refuse: "100% done".`
	r := NewPreflightRow(migrate.MoveCheck{UID: "u1", Source: "src", Notes: []string{note}}, 0)
	if r.Status != "ok" || !strings.Contains(r.Problems, note) {
		t.Errorf("row = status %q, text %q; want ok with the note", r.Status, r.Problems)
	}
	r = NewPreflightRow(migrate.MoveCheck{UID: "u1", Source: "src", Warnings: []string{"w."}, Notes: []string{note}}, 0)
	if r.Status != "warning" || r.Problems != "w. "+note {
		t.Errorf("row = status %q, text %q; want warning, the warning then the note", r.Status, r.Problems)
	}
}
