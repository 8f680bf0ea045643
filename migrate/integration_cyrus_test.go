package migrate_test

// Integration tests with a real Cyrus IMAP 3.6 as the target (testserver.
// StartCyrus) and a real Dovecot as the source, with a real OpenLDAP.

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testenv"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// itCyrusEnv is itEnv with a Cyrus target: e.dst is nil, cy is the target
// registered as "dst".
type itCyrusEnv struct {
	*itEnv
	cy *testserver.Cyrus
}

func itNewCyrusEnv(t *testing.T, src testserver.DovecotOptions, dst testserver.CyrusOptions, users ...string) *itCyrusEnv {
	t.Helper()
	pw := map[string]string{}
	var ldapUsers []testserver.SlapdUser
	for _, u := range users {
		pw[u] = "pw-" + u
		ldapUsers = append(ldapUsers, testserver.SlapdUser{UID: u, Mail: u + "@example.org", Home: itSrcHome, Password: "pw-" + u})
	}
	src.Users, dst.Users = pw, pw
	e := &itCyrusEnv{
		itEnv: &itEnv{
			src:  testserver.StartDovecot(t, src),
			ldap: testserver.StartSlapd(t, testserver.SlapdOptions{Users: ldapUsers}),
		},
		cy: testserver.StartCyrus(t, dst),
	}
	e.cfg = testenv.Config(t,
		config.Server{Name: "src", Address: e.src.Addr, TLS: config.TLSNone, Home: itSrcHome, Login: config.LoginMasterUser,
			AdminUser: e.src.MasterUser, AdminPassword: e.src.MasterPassword},
		config.Server{Name: "dst", Address: e.cy.Addr, TLS: config.TLSNone, Home: itDstHome, Login: config.LoginSASLPlain,
			AdminUser: e.cy.AdminUser, AdminPassword: e.cy.AdminPassword})
	e.cfg.Directory = itDirectory(e.ldap)
	e.db = testenv.OpenDB(t, e.cfg.Database)
	return e
}

// itCyrusDial logs in to the Cyrus target as user through its admin.
func itCyrusDial(t *testing.T, cy *testserver.Cyrus, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(cy.Addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure(%s) = %v", cy.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(sasl.NewPlainClient(user, cy.AdminUser, cy.AdminPassword)); err != nil {
		t.Fatalf("Authenticate(%s as %s) = %v\n%s", user, cy.AdminUser, err, cy.Log())
	}
	return c
}

// itManifests reads the named folders over c: folder -> manifest.
func itManifests(t *testing.T, c *imapclient.Client, names ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, n := range names {
		out[n] = testenv.Manifest(t, testenv.IMAP(c), n)
	}
	return out
}

// TestIntegrationCyrusOddNames moves folders whose names Cyrus refuses
// ("NO Invalid mailbox name") from Dovecot to Cyrus under the skip policy:
// the move is done, the folders are there under look-alike names with all
// their messages, and each rename is recorded.
func TestIntegrationCyrusOddNames(t *testing.T) {
	t.Parallel()
	e := itNewCyrusEnv(t, testserver.DovecotOptions{Sep: "/"}, testserver.CyrusOptions{}, "alice")
	// source -> target name on Cyrus (separator ".", prefix "INBOX.")
	names := map[string]string{
		"INBOX":                            "INBOX",
		"<img src=x onerror=alert(1)>":     "INBOX.‹img src=x onerror=alert(1)›",
		"<img src=x onerror=alert(1)>/sub": "INBOX.‹img src=x onerror=alert(1)›.sub",
		"Projects":                         "INBOX.Projects",
		"Projects/100% done":               "INBOX.Projects.100％ done",
		`Projects/Say "hi"`:                "INBOX.Projects.Say ＂hi＂",
	}
	sc := itDial(t, e.src, "alice")
	for _, n := range slices.Sorted(maps.Keys(names)) {
		if n != "INBOX" {
			if err := sc.Create(n, nil).Wait(); err != nil {
				t.Fatalf("Create(%q) on the source = %v", n, err)
			}
		}
		for i := range 2 {
			// ASCII only: Cyrus as shipped rewrites 8-bit header bytes,
			// which verification would rightly call a bad item.
			body := []byte("From: a@example.org\r\nTo: alice@example.org\r\nSubject: in " + n + "\r\nMessage-ID: <" +
				time.Now().Format("150405.000000000") + "@example.org>\r\n\r\nmessage " + string(rune('a'+i)) + "\r\n")
			cmd := sc.Append(n, int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)})
			if _, err := cmd.Write(body); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := cmd.Wait(); err != nil {
				t.Fatalf("Append(%q) = %v", n, err)
			}
		}
	}
	before := itManifests(t, sc, slices.Sorted(maps.Keys(names))...)
	sc.Close()

	job := e.createJob(t, model.Job{Policy: model.PolicySkip, MaxBad: 5}, "alice")
	m := e.runJob(t, job.ID)["alice"]
	if m.State != model.MoveDone || m.Skipped != 0 {
		t.Fatalf("move = %s, %d skipped (%s), want done with nothing skipped\n%s", m.State, m.Skipped, m.Error, e.cy.Log())
	}
	dc := itCyrusDial(t, e.cy, "alice")
	for src, dst := range names {
		testenv.EqualManifest(t, "target "+dst+" (from "+src+")", testenv.Manifest(t, testenv.IMAP(dc), dst), before[src])
	}
	events, err := e.db.Events(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	renamed := map[string]string{}
	for _, ev := range events {
		if fr, ok := migrate.ParseFolderRename(ev.Message); ok && ev.Kind == migrate.EventFolderRenamed {
			renamed[fr.Source] = fr.Target
		}
	}
	want := map[string]string{}
	for _, src := range []string{"<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>/sub", "Projects/100% done", `Projects/Say "hi"`} {
		want[src] = names[src]
	}
	if !maps.Equal(renamed, want) {
		t.Errorf("rename events = %q, want %q", renamed, want)
	}
	e.checkDirectory(t, "alice", itDstHome, 1)
	e.checkSourceEmptied(t, "alice", false)
}
