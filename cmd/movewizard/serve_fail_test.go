package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
)

// These tests check that serve says why it cannot serve and exits non-zero,
// instead of stopping as if asked to. They run in process: serve fails
// before it contacts any server.

// TestServeBadCertificate: a tls_cert that is not a certificate is a
// configuration error (exit 2) that names the file, found before serve
// listens.
func TestServeBadCertificate(t *testing.T) {
	dir := t.TempDir()
	cert := writeFile(t, dir, "cert.pem", "this is not a certificate\n")
	key := writeFile(t, dir, "key.pem", "nor is this a key\n")
	cfg := writeFile(t, dir, "serve.toml", fmt.Sprintf("listen = \"127.0.0.1:0\"\ntls_cert = %q\ntls_key = %q\n", cert, key)+offlineConfig)

	code, stdout, stderr := runInProcess(t, "serve", "-config", cfg)
	if code != 2 {
		t.Errorf("serve with a garbage tls_cert: exit %d, want 2; stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "tls_cert "+cert) {
		t.Errorf("serve with a garbage tls_cert: stderr = %q, want it to name %s", stderr, cert)
	}
	if strings.Contains(stdout, serveMarker) {
		t.Errorf("serve with a garbage tls_cert: stdout = %q, want no %q", stdout, serveMarker)
	}
}

// TestServeAddressTaken: a listen address another process holds exits 1 and
// names the address.
func TestServeAddressTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	defer ln.Close()
	dir := t.TempDir()
	cfg := writeFile(t, dir, "serve.toml", fmt.Sprintf("listen = %q\n", ln.Addr())+offlineConfig)

	code, _, stderr := runInProcess(t, "serve", "-config", cfg)
	if code != 1 {
		t.Errorf("serve on a taken address: exit %d, want 1; stderr %q", code, stderr)
	}
	if want := "listen on " + ln.Addr().String(); !strings.Contains(stderr, want) {
		t.Errorf("serve on a taken address: stderr = %q, want %q", stderr, want)
	}
}

// TestServiceWebServerFails: when the HTTP server stops with an error while
// serving, run stops the runner and returns that error with a non-zero
// exit code, instead of nil as for a stop by signal.
func TestServiceWebServerFails(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load(writeFile(t, dir, "serve.toml", offlineConfig))
	if err != nil {
		t.Fatalf("LoadConfig() = %v", err)
	}
	store, err := db.Open(context.Background(), filepath.Join(dir, "mw.db"))
	if err != nil {
		t.Fatalf("db.Open() = %v", err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	ln.Close() // Serve fails at its first Accept
	ldapDir := directory.NewLDAP(cfg.Directory)
	svc := service{cfg: cfg, store: store, dir: ldapDir, auth: ldapDir, log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = svc.run(ctx, ln, nil)
	if ctx.Err() != nil {
		t.Fatalf("service.run() with a failing web server ran until the test's timeout")
	}
	if err == nil {
		t.Fatalf("service.run() with a failing web server = nil, want an error")
	}
	var errOut strings.Builder
	if code := exitCode(err, &errOut); code == 0 || !strings.Contains(errOut.String(), "web server on "+ln.Addr().String()+" failed") {
		t.Errorf("service.run() with a failing web server: exit %d, stderr %q; want non-zero and %q", code, errOut.String(), "web server on ... failed")
	}
}

// TestCrashHookIgnoredOutsideMove: MOVEWIZARD_CRASH is read by move only;
// any other command warns that it ignores it.
func TestCrashHookIgnoredOutsideMove(t *testing.T) {
	t.Setenv(crashEnv, "copy:1")
	dir := t.TempDir()
	cfg := writeFile(t, dir, "serve.toml", "listen = \"127.0.0.1:0\"\ntls_cert = \"missing.pem\"\ntls_key = \"missing.key\"\n"+offlineConfig)
	_, _, stderr := runInProcess(t, "serve", "-config", cfg)
	if want := crashEnv + "=copy:1 is ignored"; !strings.Contains(stderr, want) {
		t.Errorf("serve with %s set: stderr = %q, want %q", crashEnv, stderr, want)
	}
	_, _, stderr = runInProcess(t, "move", "-h")
	if strings.Contains(stderr, "is ignored") {
		t.Errorf("move with %s set: stderr = %q, want no warning", crashEnv, stderr)
	}
}
