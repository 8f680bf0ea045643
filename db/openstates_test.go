package db

import (
	"io/fs"
	"strings"
	"testing"
)

// TestOpenStatesMatchIndex: the unique index that keeps a user in at most one
// unfinished move lists the open states in SQL (an index cannot take a
// parameter); it must list exactly model.OpenMoveStates, which every query
// uses through openStates.
func TestOpenStatesMatchIndex(t *testing.T) {
	// The last migration that (re)creates the index defines it.
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var index string
	for _, name := range names {
		b, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "CREATE UNIQUE INDEX moves_one_unfinished") {
				index = line
			}
		}
	}
	_, list, ok := strings.Cut(strings.ReplaceAll(index, " ", ""), "WHEREstateIN")
	if !ok {
		t.Fatalf("no state list in the index definition %q", index)
	}
	if list = strings.TrimSuffix(list, ";"); list != openStates {
		t.Errorf("index moves_one_unfinished lists %s, openStates is %s", list, openStates)
	}
}
