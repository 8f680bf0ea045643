package migrate_test

// End-to-end moves between Dovecot and Cyrus IMAP 3.6 in both directions,
// with a real OpenLDAP: hierarchy, copy, verification, the directory update
// and the removal of the source, through migrate.Runner. The oracle is the
// manifest of integration_env_test.go (per folder, the multiset of SHA-256
// of the raw message, flags and INTERNALDATE) taken over IMAP on both sides.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// e2eServer is one side of a move: a Dovecot or a Cyrus.
type e2eServer struct {
	dc *testserver.Dovecot
	cy *testserver.Cyrus
}

func (s e2eServer) sep() string {
	if s.cy != nil {
		return s.cy.Sep
	}
	return s.dc.Sep
}

func (s e2eServer) prefix() string {
	if s.cy != nil {
		return s.cy.Prefix
	}
	return s.dc.Prefix
}

func (s e2eServer) String() string {
	if s.cy != nil {
		return fmt.Sprintf("Cyrus (separator %q, prefix %q)", s.cy.Sep, s.cy.Prefix)
	}
	return fmt.Sprintf("Dovecot (separator %q, prefix %q)", s.dc.Sep, s.dc.Prefix)
}

// log is the server's log, for failure messages (Dovecot's is in its Dir).
func (s e2eServer) log() string {
	if s.cy != nil {
		return s.cy.Log()
	}
	return s.dc.Log()
}

// config registers the server as name with home as its directory value:
// Dovecot as a source through its master user login, as a target (and
// Cyrus always) through SASL PLAIN with the admin as authentication id.
func (s e2eServer) config(name, home string, source bool) config.Server {
	if s.cy != nil {
		return config.Server{Name: name, Address: s.cy.Addr, TLS: config.TLSNone, Home: home,
			Login: config.LoginSASLPlain, AdminUser: s.cy.AdminUser, AdminPassword: s.cy.AdminPassword}
	}
	login := config.LoginSASLPlain
	if source {
		login = config.LoginMasterUser
	}
	return config.Server{Name: name, Address: s.dc.Addr, TLS: config.TLSNone, Home: home,
		Login: login, AdminUser: s.dc.MasterUser, AdminPassword: s.dc.MasterPassword}
}

// dial logs in as user through the server's admin.
func (s e2eServer) dial(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	if s.cy != nil {
		return itCyrusDial(t, s.cy, user)
	}
	return itDial(t, s.dc, user)
}

// e2eSide says which server StartDovecot or StartCyrus starts.
type e2eSide struct {
	dovecot *testserver.DovecotOptions
	cyrus   *testserver.CyrusOptions
}

// e2eEnv is a source and a target of either kind, a slapd and a job store.
// The embedded itEnv has nil src and dst: its job, directory and report
// helpers are used, its server helpers are not.
type e2eEnv struct {
	*itEnv
	src, dst e2eServer
}

func e2eStart(t *testing.T, side e2eSide, users map[string]string) e2eServer {
	t.Helper()
	if side.cyrus != nil {
		o := *side.cyrus
		o.Users = users
		return e2eServer{cy: testserver.StartCyrus(t, o)}
	}
	o := *side.dovecot
	o.Users = users
	return e2eServer{dc: testserver.StartDovecot(t, o)}
}

func e2eNewEnv(t *testing.T, src, dst e2eSide, users ...string) *e2eEnv {
	t.Helper()
	pw := map[string]string{}
	var ldapUsers []testserver.SlapdUser
	for _, u := range users {
		pw[u] = "pw-" + u
		ldapUsers = append(ldapUsers, testserver.SlapdUser{UID: u, Mail: u + "@example.org", Home: itSrcHome, Password: "pw-" + u})
	}
	e := &e2eEnv{itEnv: &itEnv{ldap: testserver.StartSlapd(t, testserver.SlapdOptions{Users: ldapUsers})}}
	e.src, e.dst = e2eStart(t, src, pw), e2eStart(t, dst, pw)
	e.cfg = testenv.Config(t, e.src.config("src", itSrcHome, true), e.dst.config("dst", itDstHome, false))
	e.cfg.Directory = itDirectory(e.ldap)
	e.db = testenv.OpenDB(t, e.cfg.Database)
	return e
}

// The corpus. It is itCorpus's kind of mail (itBody: raw UTF-8 in every
// sixth Subject, markup, attachments, duplicates, missing and shared
// Message-IDs; itFlags: every flag and keyword, \Deleted; itDate: odd
// zones) over a folder list that fits both servers, plus raw Latin-1 and
// UTF-8 bytes in From and Subject, and optionally one big message.

// e2eFolders lists the folders of the corpus on src, parents before
// children. Cyrus refuses < > % " in names (it answers NO Invalid mailbox
// name), so only a Dovecot source has the folders that test the look-alike
// renaming; a Cyrus source has odd names Cyrus accepts.
func e2eFolders(src e2eServer) []itFolderSpec {
	fs := []itFolderSpec{
		{levels: []string{"INBOX"}, subscribe: true, count: 40},
		{levels: []string{"Sent"}, subscribe: true, count: 15},
		{levels: []string{"Drafts"}, count: 4},
		{levels: []string{"Trash"}, count: 6},
		{levels: []string{"Archive"}, subscribe: true, count: 8},
		{levels: []string{"Archive", "2023"}, subscribe: true, count: 10},
		{levels: []string{"Archive", "2024"}, count: 10},
		{levels: []string{"Archive", "2024", "Q1"}, count: 3},
		{levels: []string{"Reçus"}, count: 8},
		{levels: []string{"Reçus", "Été"}, subscribe: true, count: 6},
		{levels: []string{"Client Projects"}, subscribe: true, count: 8},
		{levels: []string{"Q&A"}, subscribe: true, count: 5},
		{levels: []string{"Empty"}, subscribe: true},
		{levels: []string{"Projects"}, count: 3},
		{levels: []string{"Projects", "Tom's (2024) [draft] #1 & co"}, count: 3},
		{levels: []string{"日本語", "報告 ✓"}, subscribe: true, count: 2},
		{levels: []string{"Emoji 🎉"}, count: 2},
	}
	if src.dc != nil {
		fs = append(fs,
			itFolderSpec{levels: []string{itMarkupFolder}, count: 4},
			itFolderSpec{levels: []string{itMarkupFolder, "sub"}, subscribe: true, count: 2},
			itFolderSpec{levels: []string{"Projects", "100% done"}, count: 3},
			itFolderSpec{levels: []string{"Projects", `Say "hi"`}, subscribe: true, count: 3},
		)
		if src.sep() == "/" {
			// Two levels on a "/" server; maildir++ refuses "/" in a name
			// under ".".
			fs = append(fs, itFolderSpec{levels: strings.Split("<script>alert(1)</script>", "/"), subscribe: true, count: 3})
		}
	} else if src.sep() == "/" {
		// Cyrus under unixhierarchysep keeps "." in a level (as "^"): on a
		// "." target the level gets the look-alike U+2024 (Join).
		fs = append(fs, itFolderSpec{levels: []string{"Projects", "Release v1.2"}, subscribe: true, count: 3})
	}
	return fs
}

// e2eCorpus generates the messages of one user into folders. The same
// arguments always give the same bytes, flags and dates.
func e2eCorpus(user string, folders []itFolderSpec, big int64) []itMsg {
	h := fnv.New64a()
	h.Write([]byte("e2e/" + user))
	rng := rand.New(rand.NewPCG(h.Sum64(), 7))
	var msgs []itMsg
	n := 0
	for _, f := range folders {
		for i := 0; i < f.count; i++ {
			n++
			m := itMsg{levels: f.levels, flags: itFlags(rng, f.levels, n), date: itDate(rng)}
			m.body = itBody(rng, user, strings.Join(f.levels, "/"), n, m.date)
			msgs = append(msgs, m)
		}
	}
	// Exact duplicates (same bytes, flags, date): twice more in INBOX, once
	// in Archive. msgs[3] has a raw UTF-8 Subject (itBody case 4).
	dup := msgs[3]
	msgs = append(msgs, dup, dup)
	arch := dup
	arch.levels = []string{"Archive"}
	msgs = append(msgs, arch)
	// Raw 8-bit header bytes other than itBody's UTF-8 Subjects.
	for i, levels := range [][]string{{"INBOX"}, {"Sent"}, {"Reçus", "Été"}, {"Q&A"}, {"Archive", "2024", "Q1"}} {
		n++
		date := itDate(rng)
		var b bytes.Buffer
		switch i % 3 {
		case 0: // Latin-1 (ISO 8859-1) in From and Subject, as old clients sent it
			fmt.Fprintf(&b, "From: J\xfcrgen M\xfcller <jm%d@example.net>\r\nTo: %s@example.org\r\n"+
				"Subject: Caf\xe9 cr\xe8me \xe0 la fran\xe7aise n\xb0%d\r\n", n, user, n)
		case 1: // raw UTF-8 in the display name and the Subject (RFC 6532 style)
			fmt.Fprintf(&b, "From: \xc3\x88ve M\xc3\xbcller <eve%d@example.net>\r\nTo: %s@example.org\r\n"+
				"Subject: Gr\xc3\xbc\xc3\x9fe \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac %d\r\n", n, user, n)
		default: // both in one header block
			fmt.Fprintf(&b, "From: Fran\xe7ois <f%d@example.net>\r\nTo: %s@example.org\r\n"+
				"Subject: \xc3\xa9t\xc3\xa9 / \xe9t\xe9 %d\r\nX-Note: caf\xe9\r\n", n, user, n)
		}
		fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <e2e8bit-%s-%d@example.org>\r\n"+
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
			"D\xe9j\xe0 vu, \xe7a va.\r\nMessage %d.\r\n", date.Format(time.RFC1123Z), user, n, n)
		msgs = append(msgs, itMsg{levels: levels, flags: itFlags(rng, levels, n), date: date, body: b.Bytes()})
	}
	if big > 0 {
		msgs = append(msgs, itMsg{levels: []string{"INBOX"}, flags: []imap.Flag{imap.FlagSeen, "$Label1"},
			date: time.Date(2024, 2, 29, 23, 59, 59, 0, itZones[8]), body: itBigBody(user, big)})
	}
	return msgs
}

// e2eHeader8bit counts the bytes >= 0x80 in a message's header (before
// the first empty line): what Cyrus's munge8bit: 1 replaces with 'X'.
func e2eHeader8bit(body []byte) int {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(body)
	}
	n := 0
	for _, c := range body[:end] {
		if c >= 0x80 {
			n++
		}
	}
	return n
}

// seed creates the folders of user on s (special-use folders the server
// made at the first login exist already), subscribes those marked, and
// APPENDs msgs with their flags and INTERNALDATEs.
func (e *e2eEnv) seed(t *testing.T, s e2eServer, user string, folders []itFolderSpec, msgs []itMsg) {
	t.Helper()
	c := s.dial(t, user)
	defer c.Close()
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	exists := map[string]bool{}
	for _, b := range boxes {
		exists[b.Mailbox] = true
	}
	for _, f := range folders {
		name := itName(f.levels, s.sep(), s.prefix())
		if !exists[name] {
			if err := c.Create(name, nil).Wait(); err != nil {
				t.Fatalf("Create(%q) on %v = %v", name, s, err)
			}
		}
		if f.subscribe {
			if err := c.Subscribe(name).Wait(); err != nil {
				t.Fatalf("Subscribe(%q) on %v = %v", name, s, err)
			}
		}
	}
	for _, m := range msgs {
		name := itName(m.levels, s.sep(), s.prefix())
		cmd := c.Append(name, int64(len(m.body)), &imap.AppendOptions{Flags: m.flags, Time: m.date})
		if _, err := cmd.Write(m.body); err != nil {
			t.Fatalf("Append(%q).Write() = %v", name, err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatalf("Append(%q).Close() = %v", name, err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("Append(%q) on %v = %v", name, s, err)
		}
	}
}

// e2eSnap is itSnap for either kind of server.
func e2eSnap(t *testing.T, s e2eServer, user string) itSnapshot {
	t.Helper()
	c := s.dial(t, user)
	defer c.Close()
	snap := itSnapshot{manifest: map[string][]string{}, attrs: map[string][]imap.MailboxAttr{}, subscribed: map[string]bool{}}
	boxes, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, b := range boxes {
		if itHasAttr(b.Attrs, imap.MailboxAttrNoSelect) || itHasAttr(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		snap.attrs[b.Mailbox] = b.Attrs
		snap.manifest[b.Mailbox] = testenv.Manifest(t, testenv.IMAP(c), b.Mailbox)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatalf("List(SUBSCRIBED) = %v", err)
	}
	for _, b := range subs {
		snap.subscribed[b.Mailbox] = true
	}
	return snap
}

// e2eLookAlikes is the test's own table of the look-alikes the design
// promises for the characters of the corpus that Cyrus refuses in a name.
var e2eLookAlikes = map[rune]string{'<': "‹", '>': "›", '%': "％", '"': "＂"}

// e2eCyrusRefuses lists the characters Cyrus 3.6 refuses inside a level
// (probed with each printable ASCII character; '^' only under
// unixhierarchysep, where it stands for '.'). The engine's
// refusedLookAlikes has a look-alike for each but '`'.
const e2eCyrusRefuses = "!\"%;<>\\`{|}"

// e2eTargetName is the target name the design promises for a source name:
// the same levels under the target's separator and prefix, and, on a Cyrus
// target, look-alikes for the characters Cyrus refuses (renamed).
func e2eTargetName(t *testing.T, name string, src, dst e2eServer) (target string, renamed bool) {
	t.Helper()
	if name == "INBOX" {
		return "INBOX", false
	}
	rest, ok := strings.CutPrefix(name, src.prefix())
	if !ok {
		t.Fatalf("source folder %q is outside the prefix %q", name, src.prefix())
	}
	levels := strings.Split(rest, src.sep())
	for i, l := range levels {
		// One level stays one level: the target's separator inside it gets
		// a look-alike (planned, not a refusal: no rename event).
		l = strings.ReplaceAll(l, dst.sep(), map[string]string{"/": "\u2215", ".": "\u2024"}[dst.sep()])
		levels[i] = l
		if dst.cy == nil {
			continue
		}
		var b strings.Builder
		for _, r := range l {
			if s, ok := e2eLookAlikes[r]; ok {
				b.WriteString(s)
				continue
			}
			if strings.ContainsRune(e2eCyrusRefuses, r) || (r == '^' && dst.sep() == "/") {
				t.Fatalf("source level %q holds %q, which Cyrus refuses and e2eLookAlikes lacks", l, r)
			}
			b.WriteRune(r)
		}
		if b.String() != l {
			levels[i], renamed = b.String(), true
		}
	}
	return itName(levels, dst.sep(), dst.prefix()), renamed
}

// e2eSpecialUses are the uses testserver's AutoSpecial gives both servers.
var e2eSpecialUses = []imap.MailboxAttr{imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrArchive}

func e2eSpecialUse(attrs []imap.MailboxAttr) imap.MailboxAttr {
	for _, u := range e2eSpecialUses {
		if itHasAttr(attrs, u) {
			return u
		}
	}
	return ""
}

// events returns the move's events of one kind.
func (e *e2eEnv) events(t *testing.T, m model.Move, kind string) []string {
	t.Helper()
	evs, err := e.db.Events(context.Background(), m.ID)
	if err != nil {
		t.Fatalf("Events() = %v", err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev.Message)
		}
	}
	return out
}

// checkTarget compares the target of user, where want (folder -> manifest,
// in source names) was to arrive, with the target's snapshot: each source
// folder under its promised name with exactly its messages, subscriptions
// and special uses as on the source, and one rename event for each renamed
// folder. before is the source snapshot taken before the move.
func (e *e2eEnv) checkTarget(t *testing.T, m model.Move, before itSnapshot, want map[string][]string) itSnapshot {
	t.Helper()
	user := m.UID
	after := e2eSnap(t, e.dst, user)
	total := 0
	for _, w := range want {
		total += len(w)
	}
	if got := after.total(); got != total {
		t.Errorf("%s: target holds %d messages, want %d", user, got, total)
	}
	wantRenames := map[string]string{}
	for _, name := range before.names() {
		tn, renamed := e2eTargetName(t, name, e.src, e.dst)
		if renamed {
			wantRenames[name] = tn
		}
		got, ok := after.manifest[tn]
		if !ok {
			t.Errorf("%s: target lacks %q (from %q); target folders %q", user, tn, name, after.names())
			continue
		}
		testenv.EqualManifest(t, fmt.Sprintf("%s: target %q (from %q)", user, tn, name), got, want[name])
		// A target special-use folder may be subscribed already (AutoSpecial).
		if w := before.subscribed[name]; after.subscribed[tn] != w && !(w == false && e2eSpecialUse(after.attrs[tn]) != "") {
			t.Errorf("%s: target %q subscribed = %v, want %v like source %q", user, tn, after.subscribed[tn], w, name)
		}
		if u := e2eSpecialUse(before.attrs[name]); u != "" && !itHasAttr(after.attrs[tn], u) {
			t.Errorf("%s: source %q is %s, target %q has attributes %v", user, name, u, tn, after.attrs[tn])
		}
	}
	for name := range after.subscribed {
		if _, ok := after.manifest[name]; !ok {
			t.Errorf("%s: target subscribes to %q, which is not a folder there", user, name)
		}
	}
	// Every renamed source folder with mail has its event; every event
	// names the promised target (a \Noselect parent may have one too).
	gotRenames := map[string]string{}
	for _, msg := range e.events(t, m, migrate.EventFolderRenamed) {
		fr, ok := migrate.ParseFolderRename(msg)
		if !ok {
			t.Errorf("%s: unparsable %s event %q", user, migrate.EventFolderRenamed, msg)
			continue
		}
		gotRenames[fr.Source] = fr.Target
		if tn, _ := e2eTargetName(t, fr.Source, e.src, e.dst); tn != fr.Target {
			t.Errorf("%s: %s event %q → %q, want → %q", user, migrate.EventFolderRenamed, fr.Source, fr.Target, tn)
		}
	}
	for src, tn := range wantRenames {
		if gotRenames[src] != tn {
			t.Errorf("%s: no %s event %q → %q; events %q", user, migrate.EventFolderRenamed, src, tn, gotRenames)
		}
	}
	if e.dst.dc != nil && len(gotRenames) > 0 {
		t.Errorf("%s: Dovecot target, yet folders were renamed: %q", user, gotRenames)
	}
	return after
}

// checkSourceEmptied checks the source after a move that left nothing on
// it: no message is left, every folder but INBOX is gone, except on
// Dovecot the AutoSpecial ones (re-created empty at the next login) and on
// Cyrus the special-use ones, whose DELETE Cyrus refuses ("SPECIAL-USE
// flag conflict"): those must be reported in a folder-kept event. No
// subscription names a folder that is gone.
func (e *e2eEnv) checkSourceEmptied(t *testing.T, m model.Move) {
	t.Helper()
	user := m.UID
	after := e2eSnap(t, e.src, user)
	kept := e.events(t, m, "folder-kept")
	for _, name := range after.names() {
		if n := len(after.manifest[name]); n != 0 {
			t.Errorf("%s: source %q still holds %d messages", user, name, n)
		}
		if name == "INBOX" {
			continue
		}
		use := e2eSpecialUse(after.attrs[name])
		switch {
		case use == "":
			t.Errorf("%s: source folder %q was not removed (attributes %v)", user, name, after.attrs[name])
		case e.src.cy != nil:
			t.Logf("%s: source %s folder %q stays (Cyrus refuses its DELETE)", user, use, name)
			if !slices.ContainsFunc(kept, func(k string) bool {
				return strings.HasPrefix(k, name+": ") && strings.Contains(k, "SPECIAL-USE")
			}) {
				t.Errorf("%s: source %s folder %q stays, but no folder-kept event says why; folder-kept events %q", user, use, name, kept)
			}
		}
	}
	// A folder-kept event for a folder that is gone is a misreport, not a
	// loss: TestIntegrationCyrusFolderKeptReport holds the engine to it.
	for _, k := range kept {
		name, _, _ := strings.Cut(k, ": ")
		if _, ok := after.manifest[name]; !ok {
			t.Logf("%s: folder-kept event for %q, which is not on the source: %q", user, name, k)
		}
	}
	for name := range after.subscribed {
		if _, ok := after.manifest[name]; !ok {
			t.Errorf("%s: source still subscribes to removed folder %q", user, name)
		}
	}
	if sk := e.events(t, m, "source-kept"); len(sk) > 0 {
		t.Errorf("%s: source-kept events %q, want none: every message was verified", user, sk)
	}
}

// e2eDirection is one end-to-end configuration.
type e2eDirection struct {
	name     string
	src, dst e2eSide
}

var (
	e2eCyrusDebian = &testserver.CyrusOptions{Keep8bit: true, AutoSpecial: true}
	e2eCyrusUnix   = &testserver.CyrusOptions{Keep8bit: true, AutoSpecial: true, UnixHierarchySep: true, AltNamespace: true}
)

// TestIntegrationCyrusMove moves whole mailboxes Dovecot → Cyrus and Cyrus
// → Dovecot, with each of Cyrus's two namespaces (Debian's default:
// separator ".", prefix "INBOX."; unixhierarchysep + altnamespace: "/", no
// prefix) and munge8bit: 0. Afterwards the target holds exactly the
// source's messages, byte for byte with flags, keywords and INTERNALDATEs,
// under the promised (on Cyrus sometimes renamed) names; the source is
// emptied; the directory names the target.
func TestIntegrationCyrusMove(t *testing.T) {
	t.Parallel()
	for _, tc := range []e2eDirection{
		{"Dovecot slash to Cyrus INBOX dot",
			e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/", AutoSpecial: true}}, e2eSide{cyrus: e2eCyrusDebian}},
		{"Dovecot INBOX dot to Cyrus slash",
			e2eSide{dovecot: &testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true}}, e2eSide{cyrus: e2eCyrusUnix}},
		{"Cyrus INBOX dot to Dovecot slash",
			e2eSide{cyrus: e2eCyrusDebian}, e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/", AutoSpecial: true}}},
		{"Cyrus slash to Dovecot INBOX dot",
			e2eSide{cyrus: e2eCyrusUnix}, e2eSide{dovecot: &testserver.DovecotOptions{Sep: ".", Prefix: "INBOX.", AutoSpecial: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			users := []string{"alice", "bob"}
			e := e2eNewEnv(t, tc.src, tc.dst, users...)
			started := time.Since(start)
			before := map[string]itSnapshot{}
			for _, u := range users {
				var big int64
				if u == "alice" {
					big = 20 << 20
				}
				folders := e2eFolders(e.src)
				msgs := e2eCorpus(u, folders, big)
				e.seed(t, e.src, u, folders, msgs)
				// Logging in creates the target INBOX (Cyrus: with its
				// special-use folders), as the user's first session would.
				e2eSnap(t, e.dst, u)
				before[u] = e2eSnap(t, e.src, u)
				if got := before[u].total(); got != len(msgs) {
					t.Fatalf("%s: source holds %d messages after seeding %d", u, got, len(msgs))
				}
				e2eCheckCorpus(t, e.src, before[u], msgs)
			}
			seeded := time.Since(start)
			job := e.createJob(t, model.Job{Parallel: 2}, users...)
			moves := e.runJob(t, job.ID)
			moved := time.Since(start)
			for _, u := range users {
				m := moves[u]
				if m.State != model.MoveDone {
					t.Errorf("%s: move state = %s (%s), want %s\nsource log:\n%s\ntarget log:\n%s",
						u, m.State, m.Error, model.MoveDone, e.src.log(), e.dst.log())
					continue
				}
				e.checkDone(t, m, before[u])
				e.checkTarget(t, m, before[u], before[u].manifest)
				e.checkSourceEmptied(t, m)
				e.checkDirectory(t, u, itDstHome, 1)
				if m.DirectoryUpdated.IsZero() || m.SourceRemoved.IsZero() {
					t.Errorf("%s: DirectoryUpdated %v, SourceRemoved %v; want both set", u, m.DirectoryUpdated, m.SourceRemoved)
				}
			}
			t.Logf("%s → %s: servers started in %v, seeded in %v, moved in %v (alice %d messages incl. 20 MB, bob %d), checked in %v",
				e.src, e.dst, started.Round(time.Millisecond), (seeded - started).Round(time.Millisecond),
				(moved - seeded).Round(time.Millisecond), before["alice"].total(), before["bob"].total(),
				(time.Since(start) - moved).Round(time.Millisecond))
		})
	}
}

// e2eCheckCorpus makes sure the source kept what the corpus is for: every
// flag and keyword, exact duplicates, the raw 8-bit header bytes (a source
// that munged them would make the test vacuous) and the folders.
func e2eCheckCorpus(t *testing.T, s e2eServer, snap itSnapshot, msgs []itMsg) {
	t.Helper()
	itCheckCoverage(t, snap)
	sums := map[string]bool{}
	for _, entries := range snap.manifest {
		for _, en := range entries {
			sums[strings.Split(en, "|")[0]] = true
		}
	}
	eight := 0
	for _, m := range msgs {
		if e2eHeader8bit(m.body) == 0 {
			continue
		}
		eight++
		if sum := fmt.Sprintf("%x", sha256.Sum256(m.body)); !sums[sum] {
			t.Errorf("%v does not hold the 8-bit message %q byte for byte", s, m.body[:min(len(m.body), 200)])
		}
	}
	if eight < 10 {
		t.Errorf("corpus has %d messages with 8-bit header bytes, want at least 10", eight)
	}
	for _, u := range e2eSpecialUses {
		if !slices.ContainsFunc(snap.names(), func(n string) bool { return itHasAttr(snap.attrs[n], u) }) {
			t.Errorf("%v has no %s folder: %q", s, u, snap.names())
		}
	}
}

// TestIntegrationCyrusQuota moves to a Cyrus whose quota cannot hold the
// mailbox: the move is abandoned before anything irreversible, the target
// is as before (folders, subscriptions, no message, quota usage) and the
// source untouched.
func TestIntegrationCyrusQuota(t *testing.T) {
	t.Parallel()
	cy := *e2eCyrusDebian
	cy.QuotaBytes = 64 << 10
	e := e2eNewEnv(t, e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/", AutoSpecial: true}}, e2eSide{cyrus: &cy}, "frank")
	folders := e2eFolders(e.src)
	e.seed(t, e.src, "frank", folders, e2eCorpus("frank", folders, 0))
	before := e2eSnap(t, e.src, "frank")
	dstBefore := e2eSnap(t, e.dst, "frank")
	usageBefore := e2eQuotaUsage(t, e.dst, "frank")
	job := e.createJob(t, model.Job{}, "frank")
	m := e.runJob(t, job.ID)["frank"]
	if m.State != model.MoveAbandoned {
		t.Fatalf("move state = %s (%s), want %s\n%s", m.State, m.Error, model.MoveAbandoned, e.dst.log())
	}
	if !strings.Contains(strings.ToLower(m.Error), "quota") {
		t.Errorf("move error = %q, want it to mention the quota", m.Error)
	}
	if !m.DirectoryUpdated.IsZero() || !m.SourceRemoved.IsZero() || m.MsgsDone != 0 {
		t.Errorf("abandoned move: DirectoryUpdated %v, SourceRemoved %v, MsgsDone %d; want nothing done",
			m.DirectoryUpdated, m.SourceRemoved, m.MsgsDone)
	}
	e.checkUntouched(t, "frank", before, dstBefore)
	if got := e2eQuotaUsage(t, e.dst, "frank"); got != usageBefore {
		t.Errorf("target quota usage = %d KiB, want %d as before the move", got, usageBefore)
	}
}

// checkUntouched checks an abandoned move: the source as before, the target
// with the folders and subscriptions it had and no message, the directory
// unchanged.
func (e *e2eEnv) checkUntouched(t *testing.T, user string, before, dstBefore itSnapshot) {
	t.Helper()
	dstAfter := e2eSnap(t, e.dst, user)
	if n := dstAfter.total(); n != 0 {
		t.Errorf("target holds %d messages after the abandoned move, want 0", n)
	}
	if got, want := dstAfter.names(), dstBefore.names(); !slices.Equal(got, want) {
		t.Errorf("target folders = %q, want %q as before the move", got, want)
	}
	if got, want := itKeys(dstAfter.subscribed), itKeys(dstBefore.subscribed); !slices.Equal(got, want) {
		t.Errorf("target subscriptions = %q, want %q as before the move", got, want)
	}
	after := e2eSnap(t, e.src, user)
	if got, want := after.names(), before.names(); !slices.Equal(got, want) {
		t.Errorf("source folders = %q, want %q", got, want)
	}
	for _, name := range before.names() {
		testenv.EqualManifest(t, "source "+name, after.manifest[name], before.manifest[name])
	}
	if !maps.Equal(after.subscribed, before.subscribed) {
		t.Errorf("source subscriptions = %q, want %q", itKeys(after.subscribed), itKeys(before.subscribed))
	}
	e.checkDirectory(t, user, itSrcHome, 0)
}

// e2eQuotaUsage is the STORAGE usage (KiB) of user's INBOX quota root on Cyrus.
func e2eQuotaUsage(t *testing.T, s e2eServer, user string) int64 {
	t.Helper()
	c := s.dial(t, user)
	defer c.Close()
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatalf("GetQuotaRoot(INBOX) = %v", err)
	}
	for _, r := range roots {
		if res, ok := r.Resources[imap.QuotaResourceStorage]; ok {
			return res.Usage
		}
	}
	t.Fatalf("GetQuotaRoot(INBOX) = %+v, want a STORAGE limit", roots)
	return 0
}

// TestIntegrationCyrusMunge8bit moves to Cyrus as shipped (munge8bit: 1),
// which stores each raw 8-bit header byte as 'X' keeping the size. Under
// the skip policy every such message is a skipped item naming the header
// difference and stays on the source byte for byte, every other one moves,
// nothing is lost and no altered copy is left on the target (a 20 MB one
// too, reported by digest as it is too big to compare byte by byte). Under the
// abandon policy the move is abandoned, the source untouched and the
// target cleaned.
func TestIntegrationCyrusMunge8bit(t *testing.T) {
	t.Parallel()
	for _, policy := range []model.Policy{model.PolicySkip, model.PolicyAbandon} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			e := e2eNewEnv(t, e2eSide{dovecot: &testserver.DovecotOptions{Sep: "/", AutoSpecial: true}},
				e2eSide{cyrus: &testserver.CyrusOptions{AutoSpecial: true}}, "erin")
			folders := e2eFolders(e.src)
			msgs := e2eCorpus("erin", folders, 0)
			// A 20 MB message with raw UTF-8 in its Subject: too big to be
			// compared byte by byte (diffLimit), it is reported by digest.
			big := bytes.Replace(itBigBody("erin", 20<<20), []byte("Subject: a big one"), []byte("Subject: a big one \xe2\x80\x94 \xc3\xa7a"), 1)
			msgs = append(msgs, itMsg{levels: []string{"Archive"}, flags: []imap.Flag{imap.FlagFlagged, "Custom_kw"},
				date: time.Date(2023, 10, 29, 2, 30, 0, 0, itZones[5]), body: big})
			e.seed(t, e.src, "erin", folders, msgs)
			before := e2eSnap(t, e.src, "erin")
			dstBefore := e2eSnap(t, e.dst, "erin")

			// The 8-bit messages by SHA-256, and the skipped items they
			// must become: "folder|size|reason".
			eight := map[string]bool{}
			var wantSkipped []string
			for _, m := range msgs {
				n := e2eHeader8bit(m.body)
				if n == 0 {
					continue
				}
				eight[fmt.Sprintf("%x", sha256.Sum256(m.body))] = true
				reason := fmt.Sprintf("the target changed the message: %d bytes differ in the header", n)
				if len(m.body) > 16<<20 {
					reason = fmt.Sprintf("the target changed the message: its copy's SHA-256 differs from the source's (%d bytes, not compared byte by byte)", len(m.body))
				}
				wantSkipped = append(wantSkipped, fmt.Sprintf("%s|%d|%s", itName(m.levels, e.src.sep(), e.src.prefix()), len(m.body), reason))
			}
			slices.Sort(wantSkipped)
			// Per source folder: what stays (8-bit) and what moves.
			stay, move := map[string][]string{}, map[string][]string{}
			for name, entries := range before.manifest {
				stay[name], move[name] = []string{}, []string{}
				for _, en := range entries {
					if eight[strings.Split(en, "|")[0]] {
						stay[name] = append(stay[name], en)
					} else {
						move[name] = append(move[name], en)
					}
				}
			}
			t.Logf("%d of %d messages have 8-bit header bytes", len(wantSkipped), before.total())

			job := e.createJob(t, model.Job{Policy: policy, MaxBad: len(wantSkipped) + 5}, "erin")
			m := e.runJob(t, job.ID)["erin"]
			moved := time.Since(start)
			if policy == model.PolicyAbandon {
				if m.State != model.MoveAbandoned {
					t.Fatalf("move = %s (%s), want %s", m.State, m.Error, model.MoveAbandoned)
				}
				if !strings.Contains(m.Error, "the target changed the message") || !strings.Contains(m.Error, "differ in the header") {
					t.Errorf("abandon reason = %q, want it to say the target changed the header", m.Error)
				}
				e.checkUntouched(t, "erin", before, dstBefore)
				t.Logf("abandoned after %v", moved.Round(time.Millisecond))
				return
			}
			if m.State != model.MoveDone {
				t.Fatalf("move = %s (%s), want %s\n%s", m.State, m.Error, model.MoveDone, e.dst.log())
			}
			sk, err := e.db.Skipped(context.Background(), m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var gotSkipped []string
			for _, s := range sk {
				gotSkipped = append(gotSkipped, fmt.Sprintf("%s|%d|%s", s.Folder, s.Size, s.Error))
			}
			slices.Sort(gotSkipped)
			if !slices.Equal(gotSkipped, wantSkipped) {
				t.Errorf("skipped items (folder|size|reason):\n got %q\nwant %q", gotSkipped, wantSkipped)
			}
			if m.Skipped != len(wantSkipped) {
				t.Errorf("move counts %d skipped, want %d", m.Skipped, len(wantSkipped))
			}
			e.checkDirectory(t, "erin", itDstHome, 1)

			// The target holds exactly the others, under the promised names.
			dstAfter := e.checkTarget(t, m, before, move)
			// The source holds exactly the 8-bit ones, byte for byte, with
			// their flags and dates; folders left empty are gone.
			srcAfter := e2eSnap(t, e.src, "erin")
			for _, name := range before.names() {
				if len(stay[name]) == 0 {
					if n := len(srcAfter.manifest[name]); n != 0 {
						t.Errorf("source %q holds %d messages, want none", name, n)
					}
					continue
				}
				got, ok := srcAfter.manifest[name]
				if !ok {
					t.Errorf("source lacks %q, which holds skipped messages", name)
					continue
				}
				testenv.EqualManifest(t, "source "+name+" (the skipped messages)", got, stay[name])
			}
			// Nothing lost, nothing altered: per folder, source ∪ target is
			// the corpus as it was.
			for _, name := range before.names() {
				tn, _ := e2eTargetName(t, name, e.src, e.dst)
				union := append(slices.Clone(srcAfter.manifest[name]), dstAfter.manifest[tn]...)
				slices.Sort(union)
				testenv.EqualManifest(t, fmt.Sprintf("source %q ∪ target %q", name, tn), union, before.manifest[name])
			}
			if sk := e.events(t, m, "source-kept"); len(sk) != 1 {
				t.Errorf("source-kept events = %q, want one listing the folders with skipped messages", sk)
			}
			t.Logf("moved with %d skipped in %v; MsgsDone/MsgsTotal %d/%d", m.Skipped, moved.Round(time.Millisecond), m.MsgsDone, m.MsgsTotal)
		})
	}
}
