package handlers

import (
	"testing"
	"time"
)

func TestSigninThrottleBackoff(t *testing.T) {
	th := newSigninThrottle()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= freeFailures; i++ {
		if w := th.failed(now, "Alice", "10.0.0.1"); w != 0 {
			t.Fatalf("failure %d: wait %v, want none within the allowance", i, w)
		}
	}
	if w := th.failed(now, "alice", "10.0.0.1"); w != time.Second {
		t.Fatalf("first failure over the allowance: wait %v, want 1s", w)
	}
	if w := th.wait(now, "ALICE", "10.0.0.2"); w != time.Second {
		t.Errorf("wait for the same login elsewhere = %v, want 1s", w)
	}
	now = now.Add(time.Second)
	if w := th.wait(now, "alice", "10.0.0.1"); w != 0 {
		t.Errorf("wait after it passed = %v", w)
	}
	for want := 2 * time.Second; want < lockFor; want *= 2 {
		if w := th.failed(now, "alice", "10.0.0.1"); w != want {
			t.Fatalf("next failure: wait %v, want %v", w, want)
		}
	}
	for i := 0; i < 5; i++ {
		if w := th.failed(now, "alice", "10.0.0.1"); w != lockFor {
			t.Fatalf("failures past the doubling: wait %v, want the lock %v", w, lockFor)
		}
	}
	if got := waitText(lockFor); got != "15 minutes" {
		t.Errorf("waitText(lock) = %q", got)
	}
	// Failures are forgotten after the window; a success forgets the login.
	now = now.Add(lockFor + failureWindow + time.Second)
	if w := th.failed(now, "alice", "10.0.0.1"); w != 0 {
		t.Errorf("first failure after the window: wait %v, want none", w)
	}
	th.succeeded("alice")
	if w := th.wait(now, "alice", "10.0.0.9"); w != 0 {
		t.Errorf("after a success: wait %v", w)
	}
}

func TestSigninThrottleBounded(t *testing.T) {
	th := newSigninThrottle()
	now := time.Now()
	for i := 0; i < maxTracked+100; i++ {
		th.failed(now.Add(time.Duration(i)), "user"+string(rune('a'+i%26))+time.Duration(i).String(), "10.0.0.1")
	}
	if n := len(th.keys); n > maxTracked {
		t.Errorf("%d keys tracked, want at most %d", n, maxTracked)
	}
}
