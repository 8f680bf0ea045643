package migrate_test

// Integration tests: whole moves between two real Dovecot instances with a
// real OpenLDAP directory. The oracle is a manifest taken over IMAP: per
// folder, the multiset of (SHA-256 of the raw message, flags, INTERNALDATE).

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/testserver"
)

const (
	itSrcHome = "src.example.org"
	itDstHome = "dst.example.org"
)

// itEnv is a source and a target Dovecot, a slapd and a job store.
type itEnv struct {
	src, dst *testserver.Dovecot
	ldap     *testserver.Slapd
	cfg      *migrate.Config
	db       *db.DB
}

// itSetup says what itNewEnv starts.
type itSetup struct {
	src, dst testserver.DovecotOptions
	users    []string
	homes    map[string]string // uid -> mailHost; default itSrcHome
}

func itNewEnv(t *testing.T, s itSetup) *itEnv {
	t.Helper()
	pw := map[string]string{}
	var ldapUsers []testserver.SlapdUser
	for _, u := range s.users {
		pw[u] = "pw-" + u
		home := s.homes[u]
		if home == "" {
			home = itSrcHome
		}
		ldapUsers = append(ldapUsers, testserver.SlapdUser{UID: u, Mail: u + "@example.org", Home: home, Password: "pw-" + u})
	}
	s.src.Users, s.dst.Users = pw, pw
	e := &itEnv{
		src:  testserver.StartDovecot(t, s.src),
		dst:  testserver.StartDovecot(t, s.dst),
		ldap: testserver.StartSlapd(t, testserver.SlapdOptions{Users: ldapUsers}),
	}
	e.cfg = &migrate.Config{
		Database: filepath.Join(t.TempDir(), "mw.db"), Mode: migrate.ModeNative, MaxParallel: 30,
		Directory: migrate.DirectoryConfig{URL: e.ldap.URL, BindDN: e.ldap.AdminDN, BindPassword: e.ldap.AdminPassword,
			BaseDN: e.ldap.PeopleDN, UserFilter: "(objectClass=inetOrgPerson)", HomeAttribute: "mailHost"},
		Servers: []migrate.ServerConfig{
			{Name: "src", Address: e.src.Addr, TLS: migrate.TLSNone, Home: itSrcHome, Login: migrate.LoginMasterUser,
				AdminUser: e.src.MasterUser, AdminPassword: e.src.MasterPassword},
			{Name: "dst", Address: e.dst.Addr, TLS: migrate.TLSNone, Home: itDstHome, Login: migrate.LoginSASLPlain,
				AdminUser: e.dst.MasterUser, AdminPassword: e.dst.MasterPassword},
		},
	}
	var err error
	if e.db, err = db.Open(context.Background(), e.cfg.Database); err != nil {
		t.Fatalf("db.Open() = %v", err)
	}
	t.Cleanup(func() {
		if err := e.db.Close(); err != nil {
			t.Errorf("db.Close() = %v", err)
		}
	})
	return e
}

func (e *itEnv) mover(progress func(db.Move)) *migrate.Mover {
	return &migrate.Mover{Config: e.cfg, Dir: migrate.NewLDAP(e.cfg.Directory), DB: e.db,
		Patience: 10 * time.Second, Progress: progress,
		// Warnings (retries, abandons) help to read a failure; the rest is noise.
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// createJob records a job moving users to dst.
func (e *itEnv) createJob(t *testing.T, job db.Job, users ...string) db.Job {
	t.Helper()
	job.Target, job.CreatedBy = "dst", "integration-test"
	if job.Policy == "" {
		job.Policy = db.PolicyAbandon
	}
	if job.Parallel == 0 {
		job.Parallel = 2
	}
	j, err := e.db.CreateJob(context.Background(), job, users)
	if err != nil {
		t.Fatalf("CreateJob() = %v", err)
	}
	return j
}

// runJob runs a job to the end and returns its moves by uid.
func (e *itEnv) runJob(t *testing.T, jobID int64) map[string]db.Move {
	t.Helper()
	rn := &migrate.Runner{Mover: e.mover(nil), DB: e.db}
	moves, err := rn.RunJob(context.Background(), jobID)
	if err != nil {
		t.Fatalf("RunJob() = %v", err)
	}
	out := map[string]db.Move{}
	for _, m := range moves {
		out[m.UID] = m
	}
	return out
}

// seed creates the corpus folders of user on d, subscribes some, and
// APPENDs the corpus with its flags and INTERNALDATEs. It returns how many
// messages it stored.
func (e *itEnv) seed(t *testing.T, d *testserver.Dovecot, user string, o itCorpusOptions) int {
	t.Helper()
	c := itDial(t, d, user)
	for _, f := range itFolders(o) {
		name := itName(f.levels, d.Sep, d.Prefix)
		if name != "INBOX" {
			// AutoSpecial folders exist already.
			if err := c.Create(name, nil).Wait(); err != nil && !itIsCode(err, imap.ResponseCodeAlreadyExists) {
				t.Fatalf("Create(%q) = %v", name, err)
			}
		}
		if f.subscribe {
			if err := c.Subscribe(name).Wait(); err != nil {
				t.Fatalf("Subscribe(%q) = %v", name, err)
			}
		}
	}
	msgs := itCorpus(user, o)
	for _, m := range msgs {
		name := itName(m.levels, d.Sep, d.Prefix)
		cmd := c.Append(name, int64(len(m.body)), &imap.AppendOptions{Flags: m.flags, Time: m.date})
		if _, err := cmd.Write(m.body); err != nil {
			t.Fatalf("Append(%q).Write() = %v", name, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("Append(%q).Close() = %v", name, err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("Append(%q) = %v", name, err)
		}
	}
	return len(msgs)
}

// itDial logs in to d as user through the master user.
func itDial(t *testing.T, d *testserver.Dovecot, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure(%s) = %v", d.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(d.MasterLogin(user), d.MasterPassword).Wait(); err != nil {
		t.Fatalf("Login(%q) = %v\n%s", d.MasterLogin(user), err, d.Log())
	}
	return c
}

func itIsCode(err error, code imap.ResponseCode) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == code
}

// itSnapshot is what a user's mailbox looks like on one server.
type itSnapshot struct {
	manifest   map[string][]string // selectable folder -> sorted "sha256|flags|date"
	attrs      map[string][]imap.MailboxAttr
	subscribed map[string]bool // LIST (SUBSCRIBED): also subscriptions of folders that do not exist
}

func (s itSnapshot) total() int {
	n := 0
	for _, m := range s.manifest {
		n += len(m)
	}
	return n
}

func (s itSnapshot) names() []string {
	var out []string
	for n := range s.manifest {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// itSnap takes the snapshot of user on d.
func itSnap(t *testing.T, d *testserver.Dovecot, user string) itSnapshot {
	t.Helper()
	c := itDial(t, d, user)
	defer c.Close()
	s := itSnapshot{manifest: map[string][]string{}, attrs: map[string][]imap.MailboxAttr{}, subscribed: map[string]bool{}}
	boxes, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, b := range boxes {
		if itHasAttr(b.Attrs, imap.MailboxAttrNoSelect) || itHasAttr(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		s.attrs[b.Mailbox] = b.Attrs
		s.manifest[b.Mailbox] = itManifest(t, c, b.Mailbox)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("List(SUBSCRIBED) = %v", err)
	}
	for _, b := range subs {
		s.subscribed[b.Mailbox] = true
	}
	return s
}

// itManifest reads one folder: the multiset of (SHA-256 of BODY.PEEK[],
// flags without \Recent, INTERNALDATE in UTC), sorted.
func itManifest(t *testing.T, c *imapclient.Client, folder string) []string {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("Examine(%q) = %v", folder, err)
	}
	out := []string{}
	if sel.NumMessages == 0 {
		return out
	}
	fetch := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for msg := fetch.Next(); msg != nil; msg = fetch.Next() {
		var flags []string
		var date time.Time
		var sum []byte
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataFlags:
				for _, f := range it.Flags {
					if !strings.EqualFold(string(f), `\Recent`) {
						flags = append(flags, string(f))
					}
				}
			case imapclient.FetchItemDataInternalDate:
				date = it.Time
			case imapclient.FetchItemDataBodySection:
				h := sha256.New()
				if it.Literal == nil {
					t.Fatalf("Fetch(%q): message %d has no body", folder, msg.SeqNum)
				}
				if _, err := io.Copy(h, it.Literal); err != nil {
					t.Fatalf("Fetch(%q) body = %v", folder, err)
				}
				sum = h.Sum(nil)
			}
		}
		if sum == nil || date.IsZero() {
			t.Fatalf("Fetch(%q): message %d lacks body or date", folder, msg.SeqNum)
		}
		slices.Sort(flags)
		out = append(out, fmt.Sprintf("%x|%s|%s", sum, strings.Join(flags, " "), date.UTC().Format(time.RFC3339)))
	}
	if err := fetch.Close(); err != nil {
		t.Fatalf("Fetch(%q) = %v", folder, err)
	}
	if len(out) != int(sel.NumMessages) {
		t.Fatalf("Fetch(%q) returned %d messages, EXAMINE said %d", folder, len(out), sel.NumMessages)
	}
	slices.Sort(out)
	return out
}

func itHasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	return slices.ContainsFunc(attrs, func(a imap.MailboxAttr) bool { return strings.EqualFold(string(a), string(want)) })
}

// itMapName is the target name the design promises for a source name: the
// same levels, joined with the target's separator under its prefix. (Source
// Sent maps onto target Sent: same levels here.)
func itMapName(t *testing.T, name string, from, to *testserver.Dovecot) string {
	t.Helper()
	if name == "INBOX" {
		return "INBOX"
	}
	rest, ok := strings.CutPrefix(name, from.Prefix)
	if !ok {
		t.Fatalf("source folder %q is outside the prefix %q", name, from.Prefix)
	}
	levels := strings.Split(rest, from.Sep)
	for _, l := range levels {
		if strings.Contains(l, to.Sep) {
			t.Fatalf("source level %q holds the target separator: the corpus cannot have it on Dovecot", l)
		}
	}
	return itName(levels, to.Sep, to.Prefix)
}

// itSpecialNames are the folders testserver's AutoSpecial creates and
// subscribes.
func itSpecialNames(d *testserver.Dovecot) []string {
	var out []string
	for _, n := range []string{"Sent", "Drafts", "Trash", "Archive"} {
		out = append(out, d.Prefix+n)
	}
	return out
}

func itEqualManifest(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: message %d differs:\n got %s\nwant %s", what, i, got[i], want[i])
			return
		}
	}
}

// checkTarget compares the target of user with the source snapshot taken
// before the move: every folder's manifest, the total count, special use
// and subscriptions.
func (e *itEnv) checkTarget(t *testing.T, user string, before itSnapshot, dstAuto bool) {
	t.Helper()
	after := itSnap(t, e.dst, user)
	if got, want := after.total(), before.total(); got != want {
		t.Errorf("%s: target holds %d messages, want %d (source before the move)", user, got, want)
	}
	special := map[string]bool{}
	if dstAuto {
		for _, n := range itSpecialNames(e.dst) {
			special[n] = true
		}
	}
	for _, name := range before.names() {
		tn := itMapName(t, name, e.src, e.dst)
		got, ok := after.manifest[tn]
		if !ok {
			t.Errorf("%s: target lacks %q (from %q); target folders %v", user, tn, name, after.names())
			continue
		}
		itEqualManifest(t, fmt.Sprintf("%s: target %q (from %q)", user, tn, name), got, before.manifest[name])
		if want := before.subscribed[name]; after.subscribed[tn] != want && !(special[tn] && !want) {
			t.Errorf("%s: target %q subscribed = %v, want %v like source %q", user, tn, after.subscribed[tn], want, name)
		}
		for _, use := range []imap.MailboxAttr{imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrArchive} {
			if itHasAttr(before.attrs[name], use) && !itHasAttr(after.attrs[tn], use) {
				t.Errorf("%s: source %q is %s, target %q has attributes %v", user, name, use, tn, after.attrs[tn])
			}
		}
	}
}

// checkSourceEmptied checks what phase_remove.go promises after a full
// move with nothing skipped: every message is gone, every folder but INBOX
// is deleted (Dovecot re-creates its auto = subscribe special folders
// empty at the next login) and unsubscribed.
func (e *itEnv) checkSourceEmptied(t *testing.T, user string, srcAuto bool) {
	t.Helper()
	after := itSnap(t, e.src, user)
	allowed := map[string]bool{"INBOX": true}
	if srcAuto {
		for _, n := range itSpecialNames(e.src) {
			allowed[n] = true
		}
	}
	for _, name := range after.names() {
		if n := len(after.manifest[name]); n != 0 {
			t.Errorf("%s: source %q still holds %d messages", user, name, n)
		}
		if !allowed[name] {
			t.Errorf("%s: source folder %q was not removed", user, name)
		}
	}
	for name := range after.subscribed {
		if !allowed[name] {
			t.Errorf("%s: source still subscribes to removed folder %q", user, name)
		}
	}
}

// checkDirectory checks the user's mailHost and how many LDAP modifies its
// entry received.
func (e *itEnv) checkDirectory(t *testing.T, user, home string, modifies int) {
	t.Helper()
	dn := e.ldap.UserDN(user)
	if got := e.ldap.Attr(t, dn, "mailHost"); !slices.Equal(got, []string{home}) {
		t.Errorf("%s: mailHost = %v, want [%s]", user, got, home)
	}
	if got := e.ldap.ModifyCount(t, dn); got != modifies {
		t.Errorf("%s: ModifyCount() = %d, want %d", user, got, modifies)
	}
}

// checkDone checks a finished move's record: nothing skipped, and the
// progress counters (what the job page shows) match the source.
func (e *itEnv) checkDone(t *testing.T, m db.Move, before itSnapshot) {
	t.Helper()
	if want := int64(before.total()); m.MsgsDone != want || m.MsgsTotal != want {
		t.Errorf("%s: MsgsDone/MsgsTotal = %d/%d, want %d/%d", m.UID, m.MsgsDone, m.MsgsTotal, want, want)
	}
	sk, err := e.db.Skipped(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Skipped() = %v", err)
	}
	if len(sk) != 0 {
		t.Errorf("%s: skipped items = %+v, want none", m.UID, sk)
	}
}

func TestIntegrationMoveDovecot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		src, dst testserver.DovecotOptions
		bigUser  string
	}{
		{"dot INBOX prefix to slash", testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true},
			testserver.DovecotOptions{Sep: "/", AutoSpecial: true}, "alice"},
		{"slash to dot", testserver.DovecotOptions{Sep: "/"}, testserver.DovecotOptions{Sep: "."}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users := []string{"alice", "bob", "carol"}
			e := itNewEnv(t, itSetup{src: tc.src, dst: tc.dst, users: users})
			before := map[string]itSnapshot{}
			for _, u := range users {
				o := itCorpusOptions{sep: e.src.Sep}
				if u == tc.bigUser {
					o.big = 20 << 20
				}
				n := e.seed(t, e.src, u, o)
				before[u] = itSnap(t, e.src, u)
				if got := before[u].total(); got != n {
					t.Fatalf("%s: source holds %d messages after seeding %d", u, got, n)
				}
			}
			itCheckCoverage(t, before["alice"])
			job := e.createJob(t, db.Job{Parallel: 2}, users...)
			moves := e.runJob(t, job.ID)
			for _, u := range users {
				m := moves[u]
				if m.State != db.MoveDone {
					t.Errorf("%s: move state = %s (%s), want %s", u, m.State, m.Error, db.MoveDone)
					continue
				}
				e.checkDone(t, m, before[u])
				e.checkTarget(t, u, before[u], tc.dst.AutoSpecial)
				e.checkSourceEmptied(t, u, tc.src.AutoSpecial)
				e.checkDirectory(t, u, itDstHome, 1)
			}
		})
	}
}

func TestIntegrationKeepSource(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "/", AutoSpecial: true},
		dst: testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true}, users: []string{"dave"}})
	e.seed(t, e.src, "dave", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "dave")
	job := e.createJob(t, db.Job{KeepSource: true}, "dave")
	m := e.runJob(t, job.ID)["dave"]
	if m.State != db.MoveDone {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, db.MoveDone)
	}
	if !m.SourceRemoved.IsZero() {
		t.Errorf("SourceRemoved = %v, want zero with KeepSource", m.SourceRemoved)
	}
	e.checkDone(t, m, before)
	after := itSnap(t, e.src, "dave")
	if got, want := after.names(), before.names(); !slices.Equal(got, want) {
		t.Errorf("source folders = %v, want %v", got, want)
	}
	for _, name := range before.names() {
		itEqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
	e.checkTarget(t, "dave", before, true)
	e.checkDirectory(t, "dave", itDstHome, 1)
}

func TestIntegrationAlreadyThere(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "."}, dst: testserver.DovecotOptions{Sep: "/"},
		users: []string{"erin"}, homes: map[string]string{"erin": itDstHome}})
	e.seed(t, e.src, "erin", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "erin")
	job := e.createJob(t, db.Job{}, "erin")
	m := e.runJob(t, job.ID)["erin"]
	if m.State != db.MoveAlreadyThere {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, db.MoveAlreadyThere)
	}
	e.checkDirectory(t, "erin", itDstHome, 0)
	dst := itSnap(t, e.dst, "erin")
	if got := dst.names(); !slices.Equal(got, []string{"INBOX"}) || dst.total() != 0 || len(dst.subscribed) != 0 {
		t.Errorf("target folders = %v with %d messages, subscriptions %v; want only an empty INBOX", got, dst.total(), dst.subscribed)
	}
	after := itSnap(t, e.src, "erin")
	for _, name := range before.names() {
		itEqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
}

func TestIntegrationQuota(t *testing.T) {
	t.Parallel()
	e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true},
		dst:   testserver.DovecotOptions{Sep: "/", AutoSpecial: true, QuotaBytes: 64 << 10},
		users: []string{"frank"}})
	e.seed(t, e.src, "frank", itCorpusOptions{sep: e.src.Sep})
	before := itSnap(t, e.src, "frank")
	dstBefore := itSnap(t, e.dst, "frank")
	job := e.createJob(t, db.Job{}, "frank")
	m := e.runJob(t, job.ID)["frank"]
	if m.State != db.MoveAbandoned {
		t.Fatalf("move state = %s (%s), want %s", m.State, m.Error, db.MoveAbandoned)
	}
	if !strings.Contains(strings.ToLower(m.Error), "quota") {
		t.Errorf("move error = %q, want it to mention the quota", m.Error)
	}
	dstAfter := itSnap(t, e.dst, "frank")
	if n := dstAfter.total(); n != 0 {
		t.Errorf("target holds %d messages after the abandoned move, want 0", n)
	}
	if got, want := dstAfter.names(), dstBefore.names(); !slices.Equal(got, want) {
		t.Errorf("target folders = %v, want %v as before the move", got, want)
	}
	// Dovecot keeps a subscription when its folder is deleted (RFC 3501
	// §6.3.4 lets DELETE leave it), and LSUB-driven clients show such a
	// subscription as a folder: the cleanup must unsubscribe what it made.
	for _, name := range itKeys(dstAfter.subscribed) {
		if _, ok := dstAfter.manifest[name]; !ok {
			t.Errorf("target still subscribes to %q, a folder the abandoned move created and deleted (subscriptions before the move: %v)",
				name, itKeys(dstBefore.subscribed))
		} else if !dstBefore.subscribed[name] {
			t.Logf("target folder %q, which existed before, stays subscribed by the abandoned move", name)
		}
	}
	after := itSnap(t, e.src, "frank")
	if got, want := after.names(), before.names(); !slices.Equal(got, want) {
		t.Errorf("source folders = %v, want %v", got, want)
	}
	for _, name := range before.names() {
		itEqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
	e.checkDirectory(t, "frank", itSrcHome, 0)
}

func itKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// itCheckCoverage makes sure Dovecot kept what the corpus is for: every
// flag and keyword, and exact duplicates, are on the source before a move.
func itCheckCoverage(t *testing.T, s itSnapshot) {
	t.Helper()
	seen := map[string]bool{}
	dups := 0
	for _, entries := range s.manifest {
		for i, e := range entries {
			for _, f := range strings.Fields(strings.Split(e, "|")[1]) {
				seen[f] = true
			}
			if i > 0 && entries[i-1] == e {
				dups++
			}
		}
	}
	for _, f := range []string{`\Seen`, `\Answered`, `\Flagged`, `\Draft`, `\Deleted`, "$Forwarded", "$Label1", "Custom_kw"} {
		if !seen[f] {
			t.Errorf("source corpus has no message flagged %s; flags seen: %v", f, itKeys(seen))
		}
	}
	if dups < 2 {
		t.Errorf("source corpus has %d exact duplicates in a folder, want 2", dups)
	}
}

// itHang bounds how long a cancelled RunJob may take to return. It is a
// liveness check, not a speed one: a cancelled move stops within
// milliseconds, and only a deadlock takes this long.
const itHang = 30 * time.Second

// itInterrupt decides, from the published progress, when to cancel.
type itInterrupt struct {
	mu         sync.Mutex
	folder     string // CurrentFolder of the last publish
	inboxStart int64  // MsgsDone when INBOX's copy started; -1 before
	fired      string // what the cancel interrupted
}

func TestIntegrationResumeAfterInterrupt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// cancelNow is called under it.mu for every publish in the copy
		// phase and says whether to cancel now.
		cancelNow func(it *itInterrupt, m db.Move) bool
		// inFlight: the cancel must leave copies recorded as 'sending'.
		inFlight bool
	}{
		{
			// At the start of a folder's copy (the first publish naming it)
			// no message body is streaming.
			name: "between folders",
			cancelNow: func(it *itInterrupt, m db.Move) bool {
				if m.CurrentFolder == it.folder || m.MsgsDone == 0 {
					return false
				}
				it.fired = fmt.Sprintf("start of %q after %d copies", m.CurrentFolder, m.MsgsDone)
				return true
			},
		},
		{
			// At the first commit inside INBOX's chunk: its 120 copies were
			// all marked 'sending' before the FETCH, and the commit of the
			// first 64 (or what 500 ms brought) leaves the rest in flight.
			name:     "appends in flight",
			inFlight: true,
			cancelNow: func(it *itInterrupt, m db.Move) bool {
				if m.CurrentFolder != "INBOX" {
					return false
				}
				if it.inboxStart < 0 {
					it.inboxStart = m.MsgsDone
					return false
				}
				if m.MsgsDone == it.inboxStart {
					return false
				}
				it.fired = fmt.Sprintf("INBOX after %d of its copies confirmed", m.MsgsDone-it.inboxStart)
				return true
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := itNewEnv(t, itSetup{src: testserver.DovecotOptions{Sep: "."}, dst: testserver.DovecotOptions{Sep: "/", AutoSpecial: true},
				users: []string{"grace"}})
			e.seed(t, e.src, "grace", itCorpusOptions{sep: e.src.Sep, inbox: 120})
			before := itSnap(t, e.src, "grace")
			job := e.createJob(t, db.Job{Parallel: 1}, "grace")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			it := &itInterrupt{inboxStart: -1}
			rn := &migrate.Runner{DB: e.db, Mover: e.mover(func(m db.Move) {
				it.mu.Lock()
				defer it.mu.Unlock()
				if it.fired == "" && m.State == db.MoveRunning && m.Phase == db.PhaseCopy && tc.cancelNow(it, m) {
					cancel()
				}
				it.folder = m.CurrentFolder
			})}
			done := make(chan error, 1)
			go func() {
				_, err := rn.RunJob(ctx, job.ID)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("RunJob() with a cancelled context = %v, want %v", err, context.Canceled)
				}
			case <-time.After(itHang):
				if ctx.Err() == nil {
					t.Fatalf("RunJob() ran %v without reaching the cancel point", itHang)
				}
				t.Fatalf("RunJob() has not returned %v after the cancel at %s: the move hangs. Stuck mover goroutines:\n%s",
					itHang, it.fired, itStacks("movewizard/migrate.", "imapclient.(*Client).handleFetch"))
			}
			moves, err := e.db.Moves(context.Background(), job.ID)
			if err != nil {
				t.Fatalf("Moves() = %v", err)
			}
			m := moves[0]
			if m.State != db.MoveRunning || !m.DirectoryUpdated.IsZero() {
				t.Fatalf("interrupted move: state %s, phase %s, directory updated %v; want running before the cut-over",
					m.State, m.Phase, m.DirectoryUpdated)
			}
			sending := itCountSending(t, e.db, m.ID)
			mid := itSnap(t, e.dst, "grace")
			t.Logf("cancelled at %s; the target holds %d messages, %d confirmed, %d copies left 'sending'",
				it.fired, mid.total(), m.MsgsDone, sending)
			if mid.total() == 0 || mid.total() >= before.total() || (tc.inFlight && sending == 0) {
				t.Fatalf("the cancel did not land in the middle of the copy: target %d of %d, %d 'sending'",
					mid.total(), before.total(), sending)
			}
			e.checkDirectory(t, "grace", itSrcHome, 0)

			m = e.runJob(t, job.ID)["grace"]
			if m.State != db.MoveDone {
				t.Fatalf("resumed move state = %s (%s), want %s", m.State, m.Error, db.MoveDone)
			}
			e.checkDone(t, m, before)
			e.checkTarget(t, "grace", before, true)
			e.checkSourceEmptied(t, "grace", false)
			e.checkDirectory(t, "grace", itDstHome, 1)
		})
	}
}

// itStacks returns the stacks of the goroutines whose trace contains one
// of subs: the mover's and go-imap's FETCH readers.
func itStacks(subs ...string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(g, s) }) {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// itCountSending counts copies recorded as in flight: what reconciliation
// has to settle on resume.
func itCountSending(t *testing.T, d *db.DB, moveID int64) int {
	t.Helper()
	folders, err := d.Folders(context.Background(), moveID)
	if err != nil {
		t.Fatalf("Folders() = %v", err)
	}
	n := 0
	for _, f := range folders {
		copies, err := d.Copies(context.Background(), f.ID)
		if err != nil {
			t.Fatalf("Copies() = %v", err)
		}
		for _, c := range copies {
			if c.State == db.CopySending {
				n++
			}
		}
	}
	return n
}
