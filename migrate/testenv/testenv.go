// Package testenv is the test harness every package's tests share: the
// in-process IMAP servers (imapmem) and the configuration that describes
// them, the job store, seeding, and the manifest, the oracle of a move,
// read from imapmem directly or over IMAP from any server (imapmem,
// Dovecot, Cyrus).
//
// The real servers (Dovecot, OpenLDAP, Cyrus) are started by
// migrate/testserver; a test that moves between real servers builds its
// configuration with Config and reads its manifests with Manifest over IMAP.
package testenv

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/imapmem"
)

// The in-process servers' admin credentials and the servers' homes (the
// directory's mailHost values).
const (
	AdminUser     = "admin"
	AdminPassword = "adminpw"
	SrcHome       = "src.example.org"
	DstHome       = "dst.example.org"
)

// Serve starts an in-process IMAP server on 127.0.0.1:0 and returns it with
// its address. The admin credentials default to AdminUser/AdminPassword.
// The server closes in t.Cleanup.
func Serve(t testing.TB, o imapmem.Options) (*imapmem.Server, string) {
	t.Helper()
	if o.AdminUser == "" && o.AdminPassword == "" {
		o.AdminUser, o.AdminPassword = AdminUser, AdminPassword
	}
	s := imapmem.New(o)
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("imapmem Listen() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

// Options say what Start starts.
type Options struct {
	// SrcDelimiter and DstDelimiter are the servers' hierarchy delimiters
	// (0: imapmem's default).
	SrcDelimiter, DstDelimiter rune
	// SrcLogin and DstLogin are how the mover logs in as a user (default:
	// SASL PLAIN with the admin as authorization identity on src, the
	// master-user login on dst).
	SrcLogin, DstLogin string
	// Group is both servers' group ("": none).
	Group string
}

// Env is an in-process source ("src", home SrcHome) and target ("dst",
// home DstHome), the configuration that describes them and an open job
// store at the configuration's database path.
type Env struct {
	Src, Dst *imapmem.Server
	Config   *config.Config
	DB       *db.DB
}

// Start starts the two servers and opens the store. Everything stops in
// t.Cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.SrcLogin == "" {
		o.SrcLogin = config.LoginSASLPlain
	}
	if o.DstLogin == "" {
		o.DstLogin = config.LoginMasterUser
	}
	src, srcAddr := Serve(t, imapmem.Options{Delimiter: o.SrcDelimiter})
	dst, dstAddr := Serve(t, imapmem.Options{Delimiter: o.DstDelimiter})
	cfg := Config(t,
		MemServer("src", srcAddr, SrcHome, o.SrcLogin, o.Group),
		MemServer("dst", dstAddr, DstHome, o.DstLogin, o.Group))
	return &Env{Src: src, Dst: dst, Config: cfg, DB: OpenDB(t, cfg.Database)}
}

// MemServer is the configuration of an in-process server started by Serve
// with the default admin credentials.
func MemServer(name, addr, home string, login, group string) config.Server {
	return config.Server{Name: name, Address: addr, TLS: config.TLSNone, Home: home, Group: group,
		Login: login, AdminUser: AdminUser, AdminPassword: AdminPassword}
}

// Config is the configuration of a test: servers, native mode, 30 moves at
// a time, the database in t.TempDir() and a directory that only names the
// home attribute (mailHost); a test with a real directory replaces
// Directory.
func Config(t testing.TB, servers ...config.Server) *config.Config {
	t.Helper()
	return &config.Config{Database: filepath.Join(t.TempDir(), "mw.db"), Mode: config.ModeNative, MaxParallel: 30,
		Directory: config.Directory{HomeAttribute: "mailHost"},
		Servers:   servers}
}

// OpenDB opens the job store at path; it closes in t.Cleanup, and an error
// closing it fails the test.
func OpenDB(t testing.TB, path string) *db.DB {
	t.Helper()
	store, err := db.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("db.Open() = %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("db.Close() = %v", err)
		}
	})
	return store
}

// Msg is one message to seed, or one read back for a manifest.
type Msg struct {
	Folder string
	Flags  []imap.Flag
	Date   time.Time // INTERNALDATE
	Body   []byte
}

// Seed stores msgs in user's mailbox on s, in order, creating each folder
// (other than INBOX) that does not exist yet. It returns the UIDs per folder.
func Seed(t testing.TB, s *imapmem.Server, user string, msgs ...Msg) map[string][]imap.UID {
	t.Helper()
	uids := map[string][]imap.UID{}
	for _, m := range msgs {
		if m.Folder != "INBOX" {
			if err := s.CreateMailbox(user, m.Folder, ""); err != nil && !strings.Contains(err.Error(), "exist") {
				t.Fatalf("CreateMailbox(%q) = %v", m.Folder, err)
			}
		}
		uid, err := s.AddMessage(user, m.Folder, m.Flags, m.Date, m.Body)
		if err != nil {
			t.Fatalf("AddMessage(%q) = %v", m.Folder, err)
		}
		uids[m.Folder] = append(uids[m.Folder], uid)
	}
	return uids
}

// Append stores msgs over IMAP with their flags and INTERNALDATEs, in
// order; their folders must exist.
func Append(t testing.TB, c *imapclient.Client, msgs ...Msg) {
	t.Helper()
	for _, m := range msgs {
		cmd := c.Append(m.Folder, int64(len(m.Body)), &imap.AppendOptions{Flags: m.Flags, Time: m.Date})
		if _, err := cmd.Write(m.Body); err != nil {
			t.Fatalf("Append(%q).Write() = %v", m.Folder, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("Append(%q).Close() = %v", m.Folder, err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("Append(%q) = %v", m.Folder, err)
		}
	}
}

// A Mailbox is where Manifest reads messages: Mem (an imapmem user,
// directly) or IMAP (a logged-in client, on any server).
type Mailbox interface {
	messages(t testing.TB, folder string) []Msg
}

// Mem is user's mailbox on s, read directly (no IMAP session, so no fault
// injected into s applies).
func Mem(s *imapmem.Server, user string) Mailbox { return memMailbox{s, user} }

// IMAP is the mailbox c is logged in to. Manifest EXAMINEs the folder.
func IMAP(c *imapclient.Client) Mailbox { return imapMailbox{c} }

type memMailbox struct {
	s    *imapmem.Server
	user string
}

func (m memMailbox) messages(t testing.TB, folder string) []Msg {
	t.Helper()
	msgs, err := m.s.Messages(m.user, folder)
	if err != nil {
		t.Fatalf("Messages(%q) = %v", folder, err)
	}
	out := make([]Msg, 0, len(msgs))
	for _, x := range msgs {
		out = append(out, Msg{Folder: folder, Flags: x.Flags, Date: x.Date, Body: x.Body})
	}
	return out
}

type imapMailbox struct{ c *imapclient.Client }

func (m imapMailbox) messages(t testing.TB, folder string) []Msg {
	t.Helper()
	sel, err := m.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("Examine(%q) = %v", folder, err)
	}
	out := []Msg{}
	if sel.NumMessages == 0 {
		return out
	}
	fetch := m.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		x := Msg{Folder: folder}
		bodies := 0
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataFlags:
				x.Flags = it.Flags
			case imapclient.FetchItemDataInternalDate:
				x.Date = it.Time
			case imapclient.FetchItemDataBodySection:
				bodies++
				if it.Literal == nil {
					t.Fatalf("Fetch(%q): message %d has no body", folder, msg.SeqNum)
				}
				if x.Body, err = io.ReadAll(it.Literal); err != nil {
					t.Fatalf("Fetch(%q) body = %v", folder, err)
				}
			}
		}
		if bodies != 1 {
			t.Fatalf("Fetch(%q): message %d has %d body sections, want 1", folder, msg.SeqNum, bodies)
		}
		if x.Date.IsZero() {
			t.Fatalf("Fetch(%q): message %d lacks its date", folder, msg.SeqNum)
		}
		out = append(out, x)
	}
	if err := fetch.Close(); err != nil {
		t.Fatalf("Fetch(%q) = %v", folder, err)
	}
	if len(out) != int(sel.NumMessages) {
		t.Fatalf("Fetch(%q) returned %d messages, EXAMINE said %d", folder, len(out), sel.NumMessages)
	}
	return out
}

// Messages reads a folder's messages (for checks on their bytes; Manifest
// is the oracle of a move).
func Messages(t testing.TB, mb Mailbox, folder string) []Msg {
	t.Helper()
	return mb.messages(t, folder)
}

// Manifest is a folder's content: the sorted multiset of Line of each
// message, the thing a correct move preserves.
func Manifest(t testing.TB, mb Mailbox, folder string) []string {
	t.Helper()
	return Lines(mb.messages(t, folder))
}

// Line is a message's manifest entry: "SHA-256 of the raw message|flags|
// INTERNALDATE", the flags as the server reports them (imapmem: lower
// case), sorted, without \Recent, and the date in UTC (RFC 3339).
func Line(m Msg) string {
	var flags []string
	for _, f := range m.Flags {
		if !strings.EqualFold(string(f), `\Recent`) {
			flags = append(flags, string(f))
		}
	}
	slices.Sort(flags)
	return fmt.Sprintf("%x|%s|%s", sha256.Sum256(m.Body), strings.Join(flags, " "), m.Date.UTC().Format(time.RFC3339))
}

// Lines is the manifest of msgs: each one's Line, sorted.
func Lines(msgs []Msg) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, Line(m))
	}
	slices.Sort(out)
	return out
}

// DiffManifest says how got differs from want ("" when they are equal): the
// count, or the first entry that differs.
func DiffManifest(got, want []string) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("message %d differs:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	return ""
}

// EqualManifest reports (t.Errorf) how the manifest got, described by what,
// differs from want, and whether they are equal.
func EqualManifest(t testing.TB, what string, got, want []string) bool {
	t.Helper()
	if d := DiffManifest(got, want); d != "" {
		t.Errorf("%s: %s", what, d)
		return false
	}
	return true
}
