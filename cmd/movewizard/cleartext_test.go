package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// cleartextConfig is offlineConfig with a third server: one on another
// host that may use cleartext, one with TLS. Check tests nothing against
// them, because the directory at 127.0.0.1:1 refuses before any IMAP dial.
const cleartextConfig = offlineConfig + `
[[servers]]
name = "far"
address = "192.0.2.1:143"
tls = "none"
allow_plaintext = true
home = "far.example.org"
admin_user = "admin"
admin_password = "adminpw"

[[servers]]
name = "secure"
address = "192.0.2.2:993"
tls = "tls"
home = "secure.example.org"
admin_user = "admin"
admin_password = "adminpw"
`

func TestCheckListsCleartext(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "mw.toml", cleartextConfig)
	code, stdout, _ := runInProcess(t, "check", "-config", cfg)
	if code != 1 { // the directory is unreachable
		t.Errorf("check: exit %d, want 1; stdout %q", code, stdout)
	}
	const want = "unencrypted connections (passwords cross them in cleartext):\n" +
		"  directory: LDAP without TLS (loopback address)\n" +
		"  src: IMAP without TLS (loopback address)\n" +
		"  dst: IMAP without TLS (loopback address)\n" +
		"  far: IMAP without TLS (allowed by allow_plaintext)\n"
	if !strings.Contains(stdout, want) {
		t.Errorf("check stdout = %q, want it to contain %q", stdout, want)
	}
	if strings.Contains(stdout, "secure: IMAP") {
		t.Errorf("check stdout = %q, want no line for the TLS server", stdout)
	}

	// Every connection encrypted: StartTLS for the directory, TLS for IMAP.
	encrypted := strings.Replace(strings.Replace(offlineConfig, `url = "ldap://127.0.0.1:1"`,
		"url = \"ldap://127.0.0.1:1\"\nstarttls = true", 1), `tls = "none"`, `tls = "starttls"`, -1)
	cfg = writeFile(t, dir, "encrypted.toml", encrypted)
	_, stdout, _ = runInProcess(t, "check", "-config", cfg)
	if !strings.Contains(stdout, "every connection is encrypted\n") || strings.Contains(stdout, "unencrypted") {
		t.Errorf("check stdout with every connection encrypted = %q, want %q", stdout, "every connection is encrypted")
	}
}

// TestCleartextConfigRefused: the CLI refuses a config that leaves tls out,
// or that sends a password in cleartext to another host without
// allow_plaintext, before connecting anywhere.
func TestCleartextConfigRefused(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ old, new, want string }{
		"no tls": {"address = \"127.0.0.1:2\"\ntls = \"none\"\n", "address = \"127.0.0.1:2\"\n",
			`servers[1].tls is required: "tls", "starttls" or "none"`},
		"imap cleartext to another host": {`address = "127.0.0.1:2"`, `address = "imap.example.org:143"`,
			`servers[1].tls: "none" to "imap.example.org:143" would send the admin password in cleartext; use "tls" or "starttls", or set allow_plaintext = true to accept that`},
		"ldap cleartext to another host": {`url = "ldap://127.0.0.1:1"`, `url = "ldap://ldap.example.org"`,
			`directory.url: "ldap://ldap.example.org" is not encrypted: the bind password and every sign-in password would cross the network in cleartext; use ldaps://, set starttls = true, or set allow_plaintext = true to accept that`},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(offlineConfig, tc.old) {
				t.Fatalf("offlineConfig lacks %q", tc.old)
			}
			cfg := writeFile(t, dir, "bad.toml", strings.Replace(offlineConfig, tc.old, tc.new, 1))
			for _, cmd := range []string{"check", "serve"} {
				code, _, stderr := runInProcess(t, cmd, "-config", cfg)
				if code != 2 || !strings.Contains(stderr, tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want 2 and %q", cmd, code, stderr, tc.want)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeWarnsCleartext: serve logs a WARN at start for each unencrypted
// connection, and none for encrypted ones.
func TestServeWarnsCleartext(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "mw.toml", "listen = \"127.0.0.1:0\"\n"+cleartextConfig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "-config", cfg}, &stdout, &stderr) }()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), serveMarker) {
		select {
		case err := <-done:
			t.Fatalf("serve ended before listening: %v\nstderr %s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within a minute; stderr %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve stopped by its context = %v, want nil", err)
	}
	log := stderr.String()
	for _, conn := range []string{
		"directory: LDAP without TLS (loopback address)",
		"src: IMAP without TLS (loopback address)",
		"dst: IMAP without TLS (loopback address)",
		"far: IMAP without TLS (allowed by allow_plaintext)",
	} {
		want := `level=WARN msg="unencrypted connection: passwords cross it in cleartext" connection="` + conn + `"`
		if !strings.Contains(log, want) {
			t.Errorf("serve stderr = %q, want it to contain %q", log, want)
		}
	}
	if strings.Contains(log, "secure: IMAP") {
		t.Errorf("serve stderr = %q, want no warning for the TLS server", log)
	}
}
