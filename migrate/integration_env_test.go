package migrate_test

// Integration tests: whole moves between two real Dovecot instances with a
// real OpenLDAP directory. The oracle is a manifest taken over IMAP
// (testenv.Manifest): per folder, the multiset of (SHA-256 of the raw
// message, flags, INTERNALDATE).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

const (
	itSrcHome = testenv.SrcHome
	itDstHome = testenv.DstHome
)

// itEnv is a source and a target Dovecot, a slapd and a job store.
type itEnv struct {
	src, dst *testserver.Dovecot
	ldap     *testserver.Slapd
	cfg      *config.Config
	db       *db.DB
}

// itSetup says what itNewEnv starts.
type itSetup struct {
	src, dst testserver.DovecotOptions
	users    []string
	homes    map[string]string // uid -> mailHost; default itSrcHome
}

func itNewEnv(t testing.TB, s itSetup) *itEnv {
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
	e.cfg = testenv.Config(t,
		config.Server{Name: "src", Address: e.src.Addr, TLS: config.TLSNone, Home: itSrcHome, Login: config.LoginMasterUser,
			AdminUser: e.src.MasterUser, AdminPassword: e.src.MasterPassword},
		config.Server{Name: "dst", Address: e.dst.Addr, TLS: config.TLSNone, Home: itDstHome, Login: config.LoginSASLPlain,
			AdminUser: e.dst.MasterUser, AdminPassword: e.dst.MasterPassword})
	e.cfg.Directory = itDirectory(e.ldap)
	e.db = testenv.OpenDB(t, e.cfg.Database)
	return e
}

// itDirectory is the configuration of the directory on l.
func itDirectory(l *testserver.Slapd) config.Directory {
	return config.Directory{URL: l.URL, BindDN: l.AdminDN, BindPassword: l.AdminPassword,
		BaseDN: l.PeopleDN, UserFilter: "(objectClass=inetOrgPerson)", HomeAttribute: "mailHost"}
}

func (e *itEnv) mover(progress func(model.Move)) *migrate.Mover {
	return &migrate.Mover{Config: e.cfg, Dir: directory.NewLDAP(e.cfg.Directory), DB: e.db,
		Patience: 10 * time.Second, Progress: progress,
		// Warnings (retries, abandons) help to read a failure; the rest is noise.
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// createJob records a job moving users to dst.
func (e *itEnv) createJob(t testing.TB, job model.Job, users ...string) model.Job {
	t.Helper()
	job.Target, job.CreatedBy = "dst", "integration-test"
	if job.Policy == "" {
		job.Policy = model.PolicyAbandon
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
func (e *itEnv) runJob(t *testing.T, jobID int64) map[string]model.Move {
	t.Helper()
	rn := &migrate.Runner{Mover: e.mover(nil), DB: e.db}
	moves, err := rn.RunJobs(context.Background(), jobID)
	if err != nil {
		t.Fatalf("RunJobs() = %v", err)
	}
	out := map[string]model.Move{}
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
		testenv.Append(t, c, testenv.Msg{Folder: itName(m.levels, d.Sep, d.Prefix), Flags: m.flags, Date: m.date, Body: m.body})
	}
	return len(msgs)
}

// itDial logs in to d as user through the master user.
func itDial(t testing.TB, d *testserver.Dovecot, user string) *imapclient.Client {
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
		s.manifest[b.Mailbox] = testenv.Manifest(t, testenv.IMAP(c), b.Mailbox)
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
		testenv.EqualManifest(t, fmt.Sprintf("%s: target %q (from %q)", user, tn, name), got, before.manifest[name])
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
func (e *itEnv) checkDone(t *testing.T, m model.Move, before itSnapshot) {
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
