package handlers_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
)

// countingIMAP accepts connections, counts them, and greets each after a
// pause, so that concurrent views overlap with the probe.
type countingIMAP struct {
	ln       net.Listener
	accepted atomic.Int64
}

func startCountingIMAP(t *testing.T, pause time.Duration) *countingIMAP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingIMAP{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			wg.Go(func() {
				defer conn.Close()
				time.Sleep(pause)
				conn.Write([]byte("* OK [CAPABILITY IMAP4rev1] counting server ready\r\n"))
			})
		}
	})
	return c
}

// TestServersPageProbesOncePerPeriod: however many helpdesk views of
// /servers arrive, at once or one after another, the service connects to a
// server once per 30 s.
func TestServersPageProbesOncePerPeriod(t *testing.T) {
	a := newTestApp(t)
	imap := startCountingIMAP(t, 300*time.Millisecond)
	a.cfg.Servers = append(a.cfg.Servers, config.Server{Name: "counted", Address: imap.ln.Addr().String(),
		TLS: config.TLSNone, AllowPlaintext: true, Home: "counted.example.org", Login: config.LoginSASLPlain,
		AdminUser: "admin", AdminPassword: "adminpw"})
	c := a.helpdesk(t)

	var wg sync.WaitGroup
	bodies := make([]string, 10)
	for i := range bodies {
		wg.Go(func() {
			resp, body := a.get(t, c, "/servers")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /servers = %d", resp.StatusCode)
			}
			bodies[i] = body
		})
	}
	wg.Wait()
	for range 5 {
		_, body := a.get(t, c, "/servers")
		bodies = append(bodies, body)
	}
	if got := imap.accepted.Load(); got != 1 {
		t.Errorf("%d views of /servers connected %d times to the server, want 1", len(bodies), got)
	}
	for i, body := range bodies {
		row := pagesRow(t, body, "server-counted")
		if reach := pagesRow(t, row, "server-reach"); !strings.Contains(reach, "reachable (greeting: * OK [CAPABILITY IMAP4rev1] counting") {
			t.Errorf("view %d: reachability %q, want the shared round's greeting", i, reach)
		}
	}
}

// TestServersPageCleartext: the page says which connections are
// unencrypted and why that is allowed.
func TestServersPageCleartext(t *testing.T) {
	a := newTestApp(t)
	a.cfg.Directory.URL = "ldap://ldap.example.org"
	a.cfg.Directory.AllowPlaintext = true
	a.cfg.Servers = append(a.cfg.Servers,
		config.Server{Name: "far", Address: "127.0.0.1:1", TLS: config.TLSNone, AllowPlaintext: true,
			Home: "far.example.org", Login: config.LoginSASLPlain, AdminUser: "admin", AdminPassword: "adminpw"},
		config.Server{Name: "secure", Address: "127.0.0.1:2", TLS: config.TLSImplicit,
			Home: "secure.example.org", Login: config.LoginSASLPlain, AdminUser: "admin", AdminPassword: "adminpw"})
	_, body := a.get(t, a.helpdesk(t), "/servers")

	if got, want := pagesRow(t, body, "directory-cleartext"), "unencrypted: LDAP without TLS (allowed by allow_plaintext)"; !strings.Contains(got, want) {
		t.Errorf("directory line %q, want %q", got, want)
	}
	for name, want := range map[string]string{
		"far": "unencrypted: IMAP without TLS (allowed by allow_plaintext)",
		"src": "unencrypted: IMAP without TLS (loopback address)",
	} {
		if got := pagesRow(t, pagesRow(t, body, "server-"+name), "server-cleartext"); !strings.Contains(got, want) {
			t.Errorf("server %s: %q, want %q", name, got, want)
		}
	}
	if row := pagesRow(t, body, "server-secure"); strings.Contains(row, "server-cleartext") || !strings.Contains(row, "<td>tls") {
		t.Errorf("row of a TLS server %q, want tls and no unencrypted note", row)
	}

	a.cfg.Directory.StartTLS = true
	// The encryption notes come from the config, not from the cached probe round.
	_, body = a.get(t, a.helpdesk(t), "/servers")
	if strings.Contains(body, "directory-cleartext") || !strings.Contains(pagesRow(t, body, "directory-tls"), "encrypted") {
		t.Errorf("directory with StartTLS: %q, want it shown encrypted", pagesRow(t, body, "directory-tls"))
	}
}
