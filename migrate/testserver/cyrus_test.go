package testserver

import (
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// cyTestMessage has raw 8-bit bytes (UTF-8 and a lone Latin-1 byte) in its Subject.
const cyTestMessage = "From: a@example.org\r\nTo: b@example.org\r\nSubject: caf\xc3\xa9 \xe9t\xe9\r\n" +
	"Message-ID: <1@example.org>\r\n\r\nbody\r\n"

// cyDial connects to c and closes the connection at the end of the test.
func cyDial(t *testing.T, c *Cyrus) *imapclient.Client {
	t.Helper()
	cl, err := imapclient.DialInsecure(c.Addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure(%s) = %v\n%s", c.Addr, err, c.Log())
	}
	t.Cleanup(func() {
		if err := cl.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close() = %v", err)
		}
	})
	return cl
}

// cyLoginAs signs in as uid through the admin: SASL PLAIN, authzid uid, authcid admin.
func cyLoginAs(t *testing.T, c *Cyrus, uid string) *imapclient.Client {
	t.Helper()
	cl := cyDial(t, c)
	if err := cl.Authenticate(sasl.NewPlainClient(uid, c.AdminUser, c.AdminPassword)); err != nil {
		t.Fatalf("Authenticate(PLAIN %s as %s) = %v\n%s", uid, c.AdminUser, err, c.Log())
	}
	return cl
}

func cyAppend(t *testing.T, cl *imapclient.Client, mailbox, msg string) imap.UID {
	t.Helper()
	cmd := cl.Append(mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatalf("Append(%q).Write() = %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("Append(%q).Close() = %v", mailbox, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("Append(%q).Wait() = %v", mailbox, err)
	}
	return data.UID
}

// cyFetchBody returns the stored message with this UID, and its RFC822.SIZE.
func cyFetchBody(t *testing.T, cl *imapclient.Client, mailbox string, uid imap.UID) ([]byte, int64) {
	t.Helper()
	if _, err := cl.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("Select(%q) = %v", mailbox, err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := cl.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		RFC822Size:  true,
		BodySection: []*imap.FetchItemBodySection{section},
	}).Collect()
	if err != nil {
		t.Fatalf("Fetch(UID %d) = %v", uid, err)
	}
	if len(msgs) != 1 {
		t.Fatalf("Fetch(UID %d) = %d messages, want 1", uid, len(msgs))
	}
	return msgs[0].FindBodySection(section), msgs[0].RFC822Size
}

func cyList(t *testing.T, cl *imapclient.Client, opts *imap.ListOptions) map[string]*imap.ListData {
	t.Helper()
	list, err := cl.List("", "*", opts).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	byName := make(map[string]*imap.ListData, len(list))
	for _, l := range list {
		byName[l.Mailbox] = l
	}
	return byName
}

// cyHasAttr compares case-insensitively, as RFC 3501 says: Cyrus has been seen returning
// special-use flags in lower case (\sent), though the autocreated ones come back as \Sent.
func cyHasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	return slices.ContainsFunc(attrs, func(a imap.MailboxAttr) bool { return strings.EqualFold(string(a), string(want)) })
}

func TestCyrusNamespaces(t *testing.T) {
	t.Parallel()
	users := DovecotUsers(2)
	// Start both at once, as a move test does with its source and target.
	servers := []struct {
		name        string
		c           *Cyrus
		sep, prefix string
	}{
		{"debian default", StartCyrus(t, CyrusOptions{Users: users}), ".", "INBOX."},
		{"unixhierarchysep altnamespace", StartCyrus(t, CyrusOptions{Users: users, UnixHierarchySep: true, AltNamespace: true}), "/", ""},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			c := s.c
			if c.Sep != s.sep || c.Prefix != s.prefix {
				t.Fatalf("Sep, Prefix = %q, %q; want %q, %q", c.Sep, c.Prefix, s.sep, s.prefix)
			}
			cl := cyLoginAs(t, c, "user001")
			for _, capName := range []imap.Cap{imap.CapUIDPlus, imap.CapMultiAppend, imap.CapLiteralPlus, imap.CapQResync, "DIGEST=SHA1"} {
				if !cl.Caps().Has(capName) {
					t.Errorf("Caps() lacks %s", capName)
				}
			}

			nested := c.Prefix + "Projects" + c.Sep + "2024"
			if err := cl.Create(nested, nil).Wait(); err != nil {
				t.Fatalf("Create(%q) = %v\n%s", nested, err, c.Log())
			}
			list := cyList(t, cl, nil)
			got := list[nested]
			if got == nil {
				t.Fatalf("List() lacks %q; got %v", nested, dcNames(list))
			}
			if got.Delim != rune(c.Sep[0]) {
				t.Errorf("List() delimiter = %q, want %q", got.Delim, c.Sep)
			}
			if _, ok := list["INBOX"]; !ok {
				t.Errorf("List() lacks INBOX, which the first login creates; got %v", dcNames(list))
			}
			// Without AutoSpecial there are no special-use folders.
			if _, ok := list[c.Prefix+"Sent"]; ok {
				t.Errorf("List() = %v, want no Sent without AutoSpecial", dcNames(list))
			}

			// The shipped munge8bit: 1 replaces each 8-bit header byte with 'X'.
			uid := cyAppend(t, cl, nested, cyTestMessage)
			body, size := cyFetchBody(t, cl, nested, uid)
			want := strings.Replace(cyTestMessage, "caf\xc3\xa9 \xe9t\xe9", "cafXX XtX", 1)
			if string(body) != want {
				t.Errorf("BODY[] = %q, want %q", body, want)
			}
			if size != int64(len(cyTestMessage)) {
				t.Errorf("RFC822.SIZE = %d, want %d", size, len(cyTestMessage))
			}

			// The user's own password works too, and sees a mailbox of its own.
			own := cyDial(t, c)
			if err := own.Login("user002", users["user002"]).Wait(); err != nil {
				t.Fatalf("Login(user002) = %v\n%s", err, c.Log())
			}
			if _, ok := cyList(t, own, nil)[nested]; ok {
				t.Errorf("List() of user002 shows %q of user001", nested)
			}
			wrong := cyDial(t, c)
			if err := wrong.Login("user002", "wrong").Wait(); err == nil {
				t.Errorf("Login(user002, wrong password) = nil, want an error")
			}
			// Cyrus refuses these characters in names.
			for _, bad := range []string{"a%b", "a!b", `a"b`} {
				if err := cl.Create(c.Prefix+bad, nil).Wait(); err == nil {
					t.Errorf("Create(%q) = nil, want NO Invalid mailbox name", c.Prefix+bad)
				}
			}
			if strings.Contains(c.Log(), "DBERROR") {
				t.Errorf("Log() has a DBERROR:\n%s", c.Log())
			}
		})
	}
}

func TestCyrusKeep8bit(t *testing.T) {
	t.Parallel()
	c := StartCyrus(t, CyrusOptions{Users: DovecotUsers(1), Keep8bit: true})
	cl := cyLoginAs(t, c, "user001")
	uid := cyAppend(t, cl, "INBOX", cyTestMessage)
	body, size := cyFetchBody(t, cl, "INBOX", uid)
	if string(body) != cyTestMessage {
		t.Errorf("BODY[] = %q, want the appended bytes %q", body, cyTestMessage)
	}
	if size != int64(len(cyTestMessage)) {
		t.Errorf("RFC822.SIZE = %d, want %d", size, len(cyTestMessage))
	}
}

func TestCyrusAutoSpecial(t *testing.T) {
	t.Parallel()
	for _, alt := range []bool{false, true} {
		c := StartCyrus(t, CyrusOptions{Users: DovecotUsers(1), AutoSpecial: true, UnixHierarchySep: alt, AltNamespace: alt})
		t.Run("prefix "+c.Prefix, func(t *testing.T) {
			cl := cyLoginAs(t, c, "user001")
			got := cyList(t, cl, &imap.ListOptions{ReturnSpecialUse: true, ReturnSubscribed: true})
			for _, tc := range []struct {
				name string
				attr imap.MailboxAttr
			}{
				{"Sent", imap.MailboxAttrSent},
				{"Drafts", imap.MailboxAttrDrafts},
				{"Trash", imap.MailboxAttrTrash},
				{"Archive", imap.MailboxAttrArchive},
			} {
				l := got[c.Prefix+tc.name]
				if l == nil {
					t.Errorf("List() lacks %q; got %v", c.Prefix+tc.name, dcNames(got))
					continue
				}
				if !cyHasAttr(l.Attrs, tc.attr) {
					t.Errorf("List() attributes of %q = %v, want %s", l.Mailbox, l.Attrs, tc.attr)
				}
				if !cyHasAttr(l.Attrs, imap.MailboxAttrSubscribed) {
					t.Errorf("List() attributes of %q = %v, want \\Subscribed", l.Mailbox, l.Attrs)
				}
			}
			// specialuse_protect: a special-use folder cannot be deleted.
			if err := cl.Delete(c.Prefix + "Sent").Wait(); err == nil {
				t.Errorf("Delete(%q) = nil, want NO (special-use flag conflict)", c.Prefix+"Sent")
			}
		})
	}
}

func TestCyrusQuota(t *testing.T) {
	t.Parallel()
	const quota = 10 << 20
	c := StartCyrus(t, CyrusOptions{Users: DovecotUsers(1), QuotaBytes: quota})
	cl := cyLoginAs(t, c, "user001")
	// Cyrus counts usage in whole KiB, rounded down.
	cyAppend(t, cl, "INBOX", cyTestMessage+strings.Repeat("0123456789abcdef\r\n", 256))
	roots, err := cl.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatalf("GetQuotaRoot(INBOX) = %v\n%s", err, c.Log())
	}
	if len(roots) != 1 {
		t.Fatalf("GetQuotaRoot(INBOX) = %d roots, want 1: %+v", len(roots), roots)
	}
	res, ok := roots[0].Resources[imap.QuotaResourceStorage]
	if !ok {
		t.Fatalf("GetQuotaRoot(INBOX) resources = %v, want STORAGE", roots[0].Resources)
	}
	if res.Limit != quota/1024 {
		t.Errorf("GetQuotaRoot(INBOX) STORAGE limit = %d, want %d", res.Limit, quota/1024)
	}
	if res.Usage < 1 {
		t.Errorf("GetQuotaRoot(INBOX) STORAGE usage = %d, want >= 1 after an APPEND", res.Usage)
	}
}

func TestCyrusNoQuotaByDefault(t *testing.T) {
	t.Parallel()
	c := StartCyrus(t, CyrusOptions{Users: DovecotUsers(1)})
	cl := cyLoginAs(t, c, "user001")
	roots, err := cl.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatalf("GetQuotaRoot(INBOX) = %v", err)
	}
	for _, r := range roots {
		if len(r.Resources) != 0 {
			t.Errorf("GetQuotaRoot(INBOX) = %+v, want no limits without QuotaBytes", roots)
		}
	}
}

func TestCyrusOptionsInvalid(t *testing.T) {
	for _, opts := range []CyrusOptions{
		{QuotaBytes: 1000},
		{Users: map[string]string{"a.b": "pw"}},
		{Users: map[string]string{"admin": "pw"}},
		{Users: map[string]string{"u": "two\nlines"}},
	} {
		if err := validateCyrusOptions(opts); err == nil {
			t.Errorf("validateCyrusOptions(%+v) = nil, want an error", opts)
		}
	}
	if err := validateCyrusOptions(CyrusOptions{Users: DovecotUsers(2), QuotaBytes: 1 << 20}); err != nil {
		t.Errorf("validateCyrusOptions(valid) = %v", err)
	}
}

func TestCyrusStop(t *testing.T) {
	t.Parallel()
	c := StartCyrus(t, CyrusOptions{Users: DovecotUsers(1)})
	// A logged-in session leaves an imapd beside the master and the namespace init.
	cyLoginAs(t, c, "user001")
	if pids := c.processes(); len(pids) < 3 {
		t.Fatalf("processes() = %v before Stop, want the init, the master and an imapd", pids)
	}
	c.Stop()
	c.Stop() // idempotent
	if err := syscall.Kill(c.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) after Stop = %v, want ESRCH", c.Pid, err)
	}
	if pids := c.processes(); len(pids) != 0 {
		t.Errorf("processes() after Stop = %v, want none", pids)
	}
	if conn, err := net.Dial("tcp", c.Addr); err == nil {
		t.Errorf("Dial(%s) after Stop succeeded", c.Addr)
		if err := conn.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}
	// The syslog reader ran until the instance ended: the login and the
	// shutdown are in the log. (Not the master's last line, "All children
	// have exited": on a saturated machine it was missing twice although
	// the log was read to its end; its first shutdown line never was.)
	for _, want := range []string{"User logged in", "attempting clean shutdown"} {
		if !strings.Contains(c.Log(), want) {
			t.Errorf("Log() = %q, want a line with %q", c.Log(), want)
		}
	}
}

func TestCyrusMissingImapd(t *testing.T) {
	for _, tc := range []struct {
		ci                 string
		wantSkip, wantFail bool
	}{
		{ci: "", wantSkip: true},
		{ci: "true", wantFail: true},
	} {
		t.Setenv("CI", tc.ci)
		t.Setenv(CyrusDirEnv, t.TempDir())
		f := &dcFakeTB{TB: t}
		(&Cyrus{}).findBinaries(f)
		if f.skipped != tc.wantSkip || f.failed != tc.wantFail {
			t.Errorf("CI=%q: findBinaries() with an empty %s skipped %v, failed %v; want %v, %v",
				tc.ci, CyrusDirEnv, f.skipped, f.failed, tc.wantSkip, tc.wantFail)
		}
	}
}
