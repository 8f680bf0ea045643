package main

import (
	"path/filepath"
	"testing"
	"context"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

func TestExperimentDeleteThenKill(t *testing.T) {
	for _, spec := range []string{"remove:1", "remove:2", "remove:3"} {
		t.Run(spec, func(t *testing.T) { experiment(t, spec) })
	}
}

func experiment(t *testing.T, spec string) {
	s := startServers(t, 1)
	seed(t, s.src, s.users...)
	uid := s.users[0]
	want := manifest(t, s.src, uid)
	cfg := s.config(t, "exp.db")
	move := []string{"move", "-config", cfg, "-target", "dst", "-users", uid}
	r := runBinary(t, s.childEnv("MOVEWIZARD_CRASH="+spec), move...)
	if !killedBySIGKILL(r.err) {
		t.Fatalf("%s", r)
	}
	d, err := db.Open(context.Background(), filepath.Join(s.dir, "exp.db"))
	if err != nil { t.Fatal(err) }
	m := moveOf(t, filepath.Join(s.dir, "exp.db"), uid)
	fs, err := d.Folders(context.Background(), m.ID)
	if err != nil { t.Fatal(err) }
	var next string
	for i := len(fs) - 1; i >= 0; i-- {
		t.Logf("folder %q state %s", fs[i].Source, fs[i].State)
		if fs[i].State != db.FolderRemoved && next == "" {
			next = fs[i].Source
		}
	}
	d.Close()
	t.Logf("simulating a kill right after DELETE %q", next)
	c, err := login(s.src, uid)
	if err != nil { t.Fatal(err) }
	if _, err := c.Select(next, nil).Wait(); err != nil { t.Fatal(err) }
	if err := c.Store(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil { t.Fatal(err) }
	if err := c.Expunge().Close(); err != nil { t.Fatal(err) }
	if err := c.Unselect().Wait(); err != nil { t.Fatal(err) }
	if err := c.Delete(next).Wait(); err != nil { t.Fatal(err) }
	c.Close()
	r = runBinary(t, s.childEnv(), move...)
	if r.err != nil {
		t.Fatalf("resume: %s", r)
	}
	assertMoved(t, s, uid, want)
}
