package testserver

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

const dcTestMessage = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\n" +
	"Message-ID: <1@example.org>\r\n\r\nbody\r\n"

// dcDial connects to d and closes the connection at the end of the test.
func dcDial(t *testing.T, d *Dovecot) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure(%s) = %v\n%s", d.Addr, err, d.Log())
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close() = %v", err)
		}
	})
	return c
}

// dcList returns the LIST "" "*" result keyed by mailbox name.
func dcList(t *testing.T, c *imapclient.Client, opts *imap.ListOptions) map[string]*imap.ListData {
	t.Helper()
	list, err := c.List("", "*", opts).Collect()
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	byName := make(map[string]*imap.ListData, len(list))
	for _, l := range list {
		byName[l.Mailbox] = l
	}
	return byName
}

func dcAppend(t *testing.T, c *imapclient.Client, mailbox string) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(dcTestMessage)), nil)
	if _, err := cmd.Write([]byte(dcTestMessage)); err != nil {
		t.Fatalf("Append(%q).Write() = %v", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("Append(%q).Close() = %v", mailbox, err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("Append(%q).Wait() = %v", mailbox, err)
	}
}

func TestDovecotSeparators(t *testing.T) {
	t.Parallel()
	users := DovecotUsers(2)
	// Start both at once, as a move test does with its source and target.
	servers := map[string]*Dovecot{
		".": StartDovecot(t, DovecotOptions{Sep: ".", Users: users}),
		"/": StartDovecot(t, DovecotOptions{Users: users}), // default separator
	}
	for sep, d := range servers {
		t.Run("sep "+sep, func(t *testing.T) {
			if d.Sep != sep {
				t.Fatalf("Sep = %q, want %q", d.Sep, sep)
			}
			nested := "Projects" + sep + "2024"

			master := dcDial(t, d)
			if err := master.Login(d.MasterLogin("user001"), d.MasterPassword).Wait(); err != nil {
				t.Fatalf("Login(%q) = %v\n%s", d.MasterLogin("user001"), err, d.Log())
			}
			if err := master.Create(nested, nil).Wait(); err != nil {
				t.Fatalf("Create(%q) = %v", nested, err)
			}
			dcAppend(t, master, nested)
			got := dcList(t, master, nil)[nested]
			if got == nil {
				t.Fatalf("List() lacks %q", nested)
			}
			if got.Delim != rune(sep[0]) {
				t.Errorf("List() delimiter = %q, want %q", got.Delim, sep)
			}

			// SASL PLAIN with an authorization identity lands in the same mailbox.
			plain := dcDial(t, d)
			if err := plain.Authenticate(sasl.NewPlainClient("user001", d.MasterUser, d.MasterPassword)); err != nil {
				t.Fatalf("Authenticate(PLAIN user001 as admin) = %v\n%s", err, d.Log())
			}
			st, err := plain.Status(nested, &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil {
				t.Fatalf("Status(%q) = %v", nested, err)
			}
			if st.NumMessages == nil || *st.NumMessages != 1 {
				t.Errorf("Status(%q).NumMessages = %v, want 1", nested, st.NumMessages)
			}

			// The user's own password works, and sees a mailbox of its own.
			own := dcDial(t, d)
			if err := own.Login("user002", users["user002"]).Wait(); err != nil {
				t.Fatalf("Login(user002) = %v\n%s", err, d.Log())
			}
			ownList := dcList(t, own, &imap.ListOptions{ReturnSpecialUse: true})
			if _, ok := ownList[nested]; ok {
				t.Errorf("List() of user002 shows %q of user001", nested)
			}
			// Without AutoSpecial, special-use folders exist only once created.
			if _, ok := ownList["Sent"]; ok {
				t.Errorf("List() = %v, want no Sent without AutoSpecial", dcNames(ownList))
			}
			if err := own.Create("Sent", nil).Wait(); err != nil {
				t.Fatalf("Create(Sent) = %v", err)
			}
			if l := dcList(t, own, &imap.ListOptions{ReturnSpecialUse: true})["Sent"]; l == nil || !slices.Contains(l.Attrs, imap.MailboxAttrSent) {
				t.Errorf("List() Sent = %v, want \\Sent", l)
			}

			wrong := dcDial(t, d)
			if err := wrong.Login("user002", "wrong").Wait(); err == nil {
				t.Errorf("Login(user002, wrong password) = nil, want an error")
			}
		})
	}
}

func TestDovecotPrefixAutoSpecial(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Sep: ".", Prefix: "INBOX.", Users: DovecotUsers(1), AutoSpecial: true})
	c := dcDial(t, d)
	if err := c.Login(d.MasterLogin("user001"), d.MasterPassword).Wait(); err != nil {
		t.Fatalf("Login() = %v\n%s", err, d.Log())
	}
	got := dcList(t, c, &imap.ListOptions{ReturnSpecialUse: true, ReturnSubscribed: true})
	tests := []struct {
		mailbox string
		attr    imap.MailboxAttr
	}{
		{"INBOX.Sent", imap.MailboxAttrSent},
		{"INBOX.Drafts", imap.MailboxAttrDrafts},
		{"INBOX.Trash", imap.MailboxAttrTrash},
		{"INBOX.Archive", imap.MailboxAttrArchive},
	}
	for _, tc := range tests {
		t.Run(tc.mailbox, func(t *testing.T) {
			l := got[tc.mailbox]
			if l == nil {
				t.Fatalf("List() lacks %q; got %v", tc.mailbox, dcNames(got))
			}
			if !slices.Contains(l.Attrs, tc.attr) {
				t.Errorf("List() attributes of %q = %v, want %s", tc.mailbox, l.Attrs, tc.attr)
			}
			if !slices.Contains(l.Attrs, imap.MailboxAttrSubscribed) {
				t.Errorf("List() attributes of %q = %v, want \\Subscribed", tc.mailbox, l.Attrs)
			}
			if l.Delim != '.' {
				t.Errorf("List() delimiter of %q = %q, want '.'", tc.mailbox, l.Delim)
			}
		})
	}
	if _, ok := got["INBOX"]; !ok {
		t.Errorf("List() lacks INBOX; got %v", dcNames(got))
	}
	if _, ok := got["Sent"]; ok {
		t.Errorf("List() shows Sent without the INBOX. prefix")
	}
}

func dcNames(m map[string]*imap.ListData) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func TestDovecotQuota(t *testing.T) {
	t.Parallel()
	const quota = 10 << 20
	d := StartDovecot(t, DovecotOptions{Users: DovecotUsers(1), QuotaBytes: quota})
	c := dcDial(t, d)
	if err := c.Login("user001", "pw-user001").Wait(); err != nil {
		t.Fatalf("Login() = %v\n%s", err, d.Log())
	}
	dcAppend(t, c, "INBOX")
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatalf("GetQuotaRoot(INBOX) = %v\n%s", err, d.Log())
	}
	if len(roots) != 1 {
		t.Fatalf("GetQuotaRoot(INBOX) = %d roots, want 1", len(roots))
	}
	res, ok := roots[0].Resources[imap.QuotaResourceStorage]
	if !ok {
		t.Fatalf("GetQuotaRoot(INBOX) resources = %v, want STORAGE", roots[0].Resources)
	}
	// RFC 9208 section 5.1: STORAGE is counted in units of 1024 octets.
	if res.Limit != quota/1024 {
		t.Errorf("GetQuotaRoot(INBOX) STORAGE limit = %d, want %d", res.Limit, quota/1024)
	}
	if res.Usage < 1 {
		t.Errorf("GetQuotaRoot(INBOX) STORAGE usage = %d, want >= 1 after an APPEND", res.Usage)
	}
}

func TestDovecotNoQuotaByDefault(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Users: DovecotUsers(1)})
	c := dcDial(t, d)
	if err := c.Login("user001", "pw-user001").Wait(); err != nil {
		t.Fatalf("Login() = %v\n%s", err, d.Log())
	}
	if c.Caps().Has(imap.CapQuota) {
		t.Errorf("Caps() has QUOTA without QuotaBytes")
	}
}

func TestDovecotStop(t *testing.T) {
	t.Parallel()
	d := StartDovecot(t, DovecotOptions{Users: DovecotUsers(1)})
	// A logged-in session leaves an imap process beside the master.
	c := dcDial(t, d)
	if err := c.Login("user001", "pw-user001").Wait(); err != nil {
		t.Fatalf("Login() = %v\n%s", err, d.Log())
	}
	if pids := d.processes(); len(pids) < 2 {
		t.Fatalf("processes() = %v before Stop, want the master and its children", pids)
	}
	d.Stop()
	d.Stop() // idempotent
	if err := syscall.Kill(d.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(%d, 0) after Stop = %v, want ESRCH", d.Pid, err)
	}
	if pids := d.processes(); len(pids) != 0 {
		t.Errorf("processes() after Stop = %v, want none", pids)
	}
	if conn, err := net.Dial("tcp", d.Addr); err == nil {
		t.Errorf("Dial(%s) after Stop succeeded", d.Addr)
		if err := conn.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	}
	// The log process stops last, so the session's end is in the log.
	for _, want := range []string{"starting up", "Disconnected: Server shutting down"} {
		if !strings.Contains(d.Log(), want) {
			t.Errorf("Log() = %q, want a line with %q", d.Log(), want)
		}
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	p := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("Listen(FreePort() = %d) = %v", p, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

// dcFakeTB records Skipf and Fatalf instead of stopping the goroutine.
type dcFakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *dcFakeTB) Helper()                      {}
func (f *dcFakeTB) Skipf(string, ...any)         { f.skipped = true }
func (f *dcFakeTB) Fatalf(string, ...any)        { f.failed = true }
func (f *dcFakeTB) Skip(...any)                  { f.skipped = true }
func (f *dcFakeTB) Fatal(...any)                 { f.failed = true }
func (f *dcFakeTB) Errorf(string, ...any)        { f.failed = true }
func (f *dcFakeTB) Logf(format string, a ...any) {}

func TestRequireBinary(t *testing.T) {
	tests := []struct {
		name, binary, ci   string
		wantPath           bool
		wantSkip, wantFail bool
	}{
		{name: "in PATH", binary: "sh", wantPath: true},
		{name: "sbin", binary: "dovecot", wantPath: true},
		{name: "missing", binary: "no-such-server-xyz", wantSkip: true},
		{name: "missing under CI", binary: "no-such-server-xyz", ci: "true", wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			if tc.binary == "dovecot" {
				RequireBinary(t, tc.binary) // skip this case where dovecot is not installed
			}
			f := &dcFakeTB{TB: t}
			got := RequireBinary(f, tc.binary)
			if (got != "") != tc.wantPath || f.skipped != tc.wantSkip || f.failed != tc.wantFail {
				t.Errorf("RequireBinary(%q) = %q, skipped %v, failed %v; want path %v, skipped %v, failed %v",
					tc.binary, got, f.skipped, f.failed, tc.wantPath, tc.wantSkip, tc.wantFail)
			}
		})
	}
}
