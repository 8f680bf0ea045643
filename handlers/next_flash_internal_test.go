package handlers

import (
	"testing"
	"time"
)

// The attack strings browsers follow off-site, and others that must not
// pass; every one falls back to /jobs.
var nextAttacks = []string{
	"", "jobs", "//evil.example/", "/\\evil.example/", "/\\/evil.example", "\\\\evil.example",
	"/%09/evil.example", "/\t/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "/\n/evil.example",
	"/%5Cevil.example", "/%5c/evil.example", "/%2F/evil.example", "/%2f%2fevil.example",
	"https://evil.example/", "http:/evil.example", "javascript:alert(1)", "//user@evil.example",
	"/jobs\\..\\", "/jobs%00", "/\x00", "/\x7f", "/%7f", "/jobs?x=%zz", " /jobs", "/jobs\u0085",
	"\x01/jobs", "/%c3", "/\xff",
}

func TestSafeNext(t *testing.T) {
	for _, next := range nextAttacks {
		if got := safeNext(next); got != "/jobs" {
			t.Errorf("safeNext(%q) = %q, want /jobs", next, got)
		}
		if got := formNext(next); got != "" {
			t.Errorf("formNext(%q) = %q, want none", next, got)
		}
	}
	for _, next := range []string{"/servers", "/jobs/3", "/jobs?state=running&page=2", "/users/j%C3%B6rg",
		"/users?q=a+b%2Fc", "/"} {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
		if got := formNext(next); got != next {
			t.Errorf("formNext(%q) = %q, want it kept", next, got)
		}
	}
}

func TestFlashBoundToSessionAndExpiring(t *testing.T) {
	now := time.Now()
	sig := flashSig("session-a", "Job 3 is cancelled.", now)
	if !flashValid("session-a", "Job 3 is cancelled.", sig, now) {
		t.Fatal("a fresh flash of its own session is refused")
	}
	if !flashValid("session-a", "Job 3 is cancelled.", sig, now.Add(flashTTL-time.Second)) {
		t.Error("a flash is refused before its expiry")
	}
	for name, ok := range map[string]bool{
		"other session": flashValid("session-b", "Job 3 is cancelled.", sig, now),
		"no session":    flashValid("", "Job 3 is cancelled.", sig, now),
		"other message": flashValid("session-a", "Job 4 is cancelled.", sig, now),
		"expired":       flashValid("session-a", "Job 3 is cancelled.", sig, now.Add(flashTTL+2*time.Second)),
		"old format":    flashValid("session-a", "Job 3 is cancelled.", flashMAC("session-a", 0, "x"), now),
		"no signature":  flashValid("session-a", "Job 3 is cancelled.", "", now),
		// Moving the expiry forward breaks the signature.
		"expiry edited": flashValid("session-a", "Job 3 is cancelled.", "99999999999"+sig[len(sig)-23:], now),
	} {
		if ok {
			t.Errorf("%s: flash accepted", name)
		}
	}
}
