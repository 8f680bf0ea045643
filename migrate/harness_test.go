package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// memEnv is two in-process IMAP servers, an in-memory directory and a
// database: everything a move needs, fast enough for fault injection.
type memEnv struct {
	src, dst *imapmem.Server
	cfg      *config.Config
	dir      *directory.Mem
	db       *db.DB
}

func newMemEnv(t *testing.T, srcDelim, dstDelim rune, users ...string) *memEnv {
	t.Helper()
	env := testenv.Start(t, testenv.Options{SrcDelimiter: srcDelim, DstDelimiter: dstDelim})
	e := &memEnv{src: env.Src, dst: env.Dst, cfg: env.Config, db: env.DB}
	var dusers []directory.User
	for _, u := range users {
		e.src.AddUser(u, "pw-"+u)
		e.dst.AddUser(u, "pw-"+u)
		dusers = append(dusers, directory.User{DN: "uid=" + u + ",ou=people,dc=example,dc=org", UID: u, Home: testenv.SrcHome})
	}
	for _, name := range []string{"Sent", "Drafts", "Trash"} {
		for _, u := range users {
			if err := e.dst.CreateMailbox(u, name, imap.MailboxAttr("\\"+name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.dir = directory.NewMem(dusers...)
	return e
}

func (e *memEnv) mover() *migrate.Mover {
	return &migrate.Mover{Config: e.cfg, Dir: e.dir, DB: e.db, Patience: 3 * time.Second}
}

// move creates a one-user job and runs it to its outcome.
func (e *memEnv) move(t *testing.T, ctx context.Context, uid string, job model.Job) model.Move {
	t.Helper()
	if job.Policy == "" {
		job.Policy = model.PolicyAbandon
	}
	job.Target, job.Parallel, job.CreatedBy = "dst", 1, "test"
	j, err := e.db.CreateJob(ctx, job, []string{uid})
	if err != nil {
		t.Fatal(err)
	}
	return e.runJob(t, ctx, j.ID)
}

func (e *memEnv) runJob(t *testing.T, ctx context.Context, jobID int64) model.Move {
	t.Helper()
	rn := &migrate.Runner{Mover: e.mover(), DB: e.db}
	moves, err := rn.RunJobs(ctx, jobID)
	if err != nil {
		t.Fatalf("RunJobs() = %v", err)
	}
	return moves[0]
}

// seedMsg is one message to put on the source.
type seedMsg struct {
	folder string
	flags  []imap.Flag
	date   time.Time
	body   []byte
}

func msg(folder, subject string, i int, flags ...imap.Flag) seedMsg {
	body := fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: %s %d\r\nMessage-ID: <%s-%d@example.org>\r\n\r\nbody %d of %s\r\n",
		subject, i, strings.ReplaceAll(subject, " ", ""), i, i, folder)
	return seedMsg{folder: folder, flags: flags, date: time.Date(2015+i%10, time.Month(1+i%12), 1+i%27, 10, 0, 0, 0, time.UTC), body: []byte(body)}
}

func (m seedMsg) msg() testenv.Msg {
	return testenv.Msg{Folder: m.folder, Flags: m.flags, Date: m.date, Body: m.body}
}

func (e *memEnv) seed(t *testing.T, user string, msgs []seedMsg) map[string][]imap.UID {
	t.Helper()
	var ms []testenv.Msg
	for _, m := range msgs {
		ms = append(ms, m.msg())
	}
	return testenv.Seed(t, e.src, user, ms...)
}

// manifest is a folder's content on s (testenv.Manifest): the multiset a
// correct move preserves.
func manifest(t *testing.T, s *imapmem.Server, user, folder string) []string {
	t.Helper()
	return testenv.Manifest(t, testenv.Mem(s, user), folder)
}

// equalManifest stops the test when got is not want.
func equalManifest(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !testenv.EqualManifest(t, what, got, want) {
		t.FailNow()
	}
}

func bigBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: big@example.org\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.Bytes()
}

func errorsAs[T any](err error, target *T) bool { return errors.As(err, target) }

// runWith runs a job with a given mover and returns its first move.
func runWith(t *testing.T, e *memEnv, mv *migrate.Mover, jobID int64) model.Move {
	t.Helper()
	moves, err := (&migrate.Runner{Mover: mv, DB: e.db}).RunJobs(context.Background(), jobID)
	if err != nil {
		t.Fatalf("RunJobs() = %v", err)
	}
	return moves[0]
}
