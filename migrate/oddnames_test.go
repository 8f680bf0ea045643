package migrate_test

import (
	"context"
	"testing"

	"github.com/movewizard/movewizard/db"
)

// TestOddFolderNames moves folders whose names hold the other server's
// separator, markup, quotes, wildcards and non-ASCII, both ways between a
// "." and a "/" server: one source level stays one target level, with the
// separator replaced by a look-alike.
func TestOddFolderNames(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst rune
		folders  map[string]string // source name -> expected target name
	}{
		{"dot to slash", '.', '/', map[string]string{
			"v1/2":               "v1∕2",
			"Q&A":                "Q&A",
			"<script>x</script>": "<script>x<∕script>",
			`say "hi" 100%`:      `say "hi" 100%`,
			"Été.Août/9":         "Été/Août∕9",
			"日本語":                "日本語",
		}},
		{"slash to dot", '/', '.', map[string]string{
			"v1.2":        "v1․2",
			"a.b/c.d":     "a․b.c․d",
			"Reçus/Été":   "Reçus.Été",
			"back\\slash": "back\\slash",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMemEnv(t, tc.src, tc.dst, "alice")
			want := map[string][]string{}
			i := 0
			for src := range tc.folders {
				e.seed(t, "alice", []seedMsg{msg(src, "odd", i), msg(src, "odd", i+100)})
				want[src] = manifest(t, e.src, "alice", src)
				i++
			}
			m := e.move(t, context.Background(), "alice", db.Job{})
			if m.State != db.MoveDone {
				t.Fatalf("move = %s (%s), want done", m.State, m.Error)
			}
			for src, dst := range tc.folders {
				equalManifest(t, dst, manifest(t, e.dst, "alice", dst), want[src])
			}
		})
	}
}
