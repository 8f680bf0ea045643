package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
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
	e := &memEnv{
		src: imapmem.New(imapmem.Options{AdminUser: "admin", AdminPassword: "adminpw", Delimiter: srcDelim}),
		dst: imapmem.New(imapmem.Options{AdminUser: "admin", AdminPassword: "adminpw", Delimiter: dstDelim}),
	}
	srcAddr, err := e.src.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.src.Close() })
	dstAddr, err := e.dst.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dst.Close() })
	var dusers []directory.User
	for _, u := range users {
		e.src.AddUser(u, "pw-"+u)
		e.dst.AddUser(u, "pw-"+u)
		dusers = append(dusers, directory.User{DN: "uid=" + u + ",ou=people,dc=example,dc=org", UID: u, Home: "src.example.org"})
	}
	for _, name := range []string{"Sent", "Drafts", "Trash"} {
		for _, u := range users {
			if err := e.dst.CreateMailbox(u, name, imap.MailboxAttr("\\"+name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.dir = directory.NewMem(dusers...)
	e.cfg = &config.Config{Database: filepath.Join(t.TempDir(), "mw.db"), Mode: config.ModeNative, MaxParallel: 30,
		Directory: config.Directory{HomeAttribute: "mailHost"},
		Servers: []config.Server{
			{Name: "src", Address: srcAddr, TLS: config.TLSNone, Home: "src.example.org", Login: config.LoginSASLPlain, AdminUser: "admin", AdminPassword: "adminpw"},
			{Name: "dst", Address: dstAddr, TLS: config.TLSNone, Home: "dst.example.org", Login: config.LoginMasterUser, AdminUser: "admin", AdminPassword: "adminpw"},
		}}
	e.db, err = db.Open(context.Background(), e.cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.db.Close() })
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

func (e *memEnv) seed(t *testing.T, user string, msgs []seedMsg) map[string][]imap.UID {
	t.Helper()
	uids := map[string][]imap.UID{}
	for _, m := range msgs {
		if m.folder != "INBOX" {
			if err := e.src.CreateMailbox(user, m.folder, ""); err != nil && !strings.Contains(err.Error(), "exist") {
				t.Fatal(err)
			}
		}
		uid, err := e.src.AddMessage(user, m.folder, m.flags, m.date, m.body)
		if err != nil {
			t.Fatal(err)
		}
		uids[m.folder] = append(uids[m.folder], uid)
	}
	return uids
}

// manifest is a folder's messages as (body, flags, date) strings, sorted:
// the multiset a correct move preserves.
func manifest(t *testing.T, s *imapmem.Server, user, folder string) []string {
	t.Helper()
	msgs, err := s.Messages(user, folder)
	if err != nil {
		t.Fatalf("Messages(%q) = %v", folder, err)
	}
	var out []string
	for _, m := range msgs {
		var flags []string
		for _, f := range m.Flags {
			if !strings.EqualFold(string(f), `\Recent`) {
				flags = append(flags, strings.ToLower(string(f)))
			}
		}
		sort.Strings(flags)
		out = append(out, fmt.Sprintf("%s|%s|%s", m.Body, strings.Join(flags, " "), m.Date.UTC().Format(time.RFC3339)))
	}
	slices.Sort(out)
	return out
}

func equalManifest(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: message %d differs:\n got %q\nwant %q", what, i, got[i], want[i])
		}
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
