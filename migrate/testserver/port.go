// Package testserver starts real mail and directory servers (Dovecot, OpenLDAP slapd) on
// 127.0.0.1 for integration tests. Each server lives in the test's own temporary directory,
// listens on a free port, and is stopped by t.Cleanup.
//
// Missing server binaries skip the test on a developer machine, but fail it when the CI
// environment variable is set: CI must never pass by skipping.
package testserver

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binaryDirs are searched after PATH: Debian installs daemons in sbin directories that a
// non-login shell often leaves out of PATH, and helpers under /usr/lib.
var binaryDirs = []string{
	"/usr/local/sbin",
	"/usr/sbin",
	"/sbin",
	"/usr/lib/dovecot",
	"/usr/libexec/dovecot",
	"/usr/lib/openldap",
	"/usr/libexec/openldap",
}

// FreePort returns a free TCP port on 127.0.0.1.
//
// The port is free when FreePort returns; another process may take it before the caller
// binds it, so callers that start a server retry on "address in use".
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("FreePort: listen: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("FreePort: close listener: %v", err)
	}
	return port
}

// RequireBinary returns the path of the executable name, looked up in PATH and then in the
// usual sbin and /usr/lib directories. When it is missing the test is skipped, or failed
// when the environment variable CI is non-empty.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range binaryDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	requirementMissing(t, "binary %q not found in PATH or %v", name, binaryDirs)
	return ""
}

// requirementMissing skips the test, or fails it under CI, where a skipped integration
// test would hide a broken build image.
func requirementMissing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set, refusing to skip: "+format, args...)
		return
	}
	t.Skipf(format, args...)
}
