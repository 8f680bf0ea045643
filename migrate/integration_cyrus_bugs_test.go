package migrate_test

// End-to-end tests that expose engine bugs found while writing
// integration_cyrus_e2e_test.go (see the report of that work). They use its
// helpers.

import (
	"context"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// TestIntegrationCyrusBacktickFolder moves folders whose names hold a
// backtick to Cyrus, which refuses '`' in a name like < > % " ("NO Invalid
// mailbox name"; probed with every printable ASCII character, see
// e2eCyrusRefuses). The design promises that a folder name the target
// refuses is created under a look-alike name, so the move is done with
// nothing skipped, even under the abandon policy.
func TestIntegrationCyrusBacktickFolder(t *testing.T) {
	t.Parallel()
	e := e2eNewEnv(t, e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/"}}, e2eSide{cyrus: e2eCyrusDebian}, "gina")
	folders := []itFolderSpec{
		{levels: []string{"INBOX"}, count: 2},
		{levels: []string{"Projects"}, count: 2},
		{levels: []string{"Projects", "Run `make`"}, subscribe: true, count: 3},
		{levels: []string{"`quoted`"}, count: 2},
	}
	e.seed(t, e.src, "gina", folders, e2eCorpus("gina", folders, 0)[:9])
	before := e2eSnap(t, e.src, "gina")
	job := e.createJob(t, model.Job{}, "gina")
	m := e.runJob(t, job.ID)["gina"]
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s with %d skipped (%s), want done with nothing skipped; events %q",
			m.State, m.Skipped, m.Error, e.events(t, m, migrate.EventFolderNotCreated))
	}
	renamed := map[string]string{}
	for _, msg := range e.events(t, m, migrate.EventFolderRenamed) {
		if fr, ok := migrate.ParseFolderRename(msg); ok {
			renamed[fr.Source] = fr.Target
		}
	}
	after := e2eSnap(t, e.dst, "gina")
	for _, src := range []string{"Projects/Run `make`", "`quoted`"} {
		tn, ok := renamed[src]
		if !ok {
			t.Errorf("no %s event for %q; renames %q", migrate.EventFolderRenamed, src, renamed)
			continue
		}
		if strings.Contains(tn, "`") || !strings.HasPrefix(tn, e.dst.prefix()) {
			t.Errorf("%q renamed to %q, want a look-alike without '`' under %q", src, tn, e.dst.prefix())
		}
		testenv.EqualManifest(t, "target "+tn+" (from "+src+")", after.manifest[tn], before.manifest[src])
	}
	e.checkSourceEmptied(t, m)
	e.checkDirectory(t, "gina", itDstHome, 1)
}

// TestIntegrationCyrusFolderKeptReport checks that the source removal
// reports as kept only folders that stay. Dovecot lists the parent of
// "日本語/報告 ✓", created alone, as \NonExistent; once the child is
// deleted, the parent is gone too, and its DELETE answers NO
// [NONEXISTENT]. That is not a folder kept on the source.
func TestIntegrationCyrusFolderKeptReport(t *testing.T) {
	t.Parallel()
	e := e2eNewEnv(t, e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/"}}, e2eSide{cyrus: e2eCyrusDebian}, "hank")
	folders := []itFolderSpec{
		{levels: []string{"INBOX"}, count: 2},
		{levels: []string{"日本語", "報告 ✓"}, subscribe: true, count: 2},
	}
	e.seed(t, e.src, "hank", folders, e2eCorpus("hank", folders, 0)[:4])
	before := e2eSnap(t, e.src, "hank")
	job := e.createJob(t, model.Job{}, "hank")
	m := e.runJob(t, job.ID)["hank"]
	if m.State != model.MoveDone {
		t.Fatalf("move = %s (%s), want done", m.State, m.Error)
	}
	e.checkDone(t, m, before)
	e.checkSourceEmptied(t, m)
	after := e2eSnap(t, e.src, "hank")
	for _, k := range e.events(t, m, "folder-kept") {
		name, _, _ := strings.Cut(k, ": ")
		if _, ok := after.manifest[name]; !ok {
			t.Errorf("folder-kept event %q: %q is not on the source (folders %q)", k, name, after.names())
		}
	}
	evs, err := e.db.Events(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		t.Logf("event %s: %s", ev.Kind, ev.Message)
	}
}
