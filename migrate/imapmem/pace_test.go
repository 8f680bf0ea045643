package imapmem

import (
	"testing"
	"time"
)

// TestPace: a paced server carries no more than Pace bytes per second per
// connection. Only a lower bound on the time is checked, which a busy
// machine cannot break.
func TestPace(t *testing.T) {
	const pace, size = 200 << 10, 300 << 10
	_, addr := mustServer(t, Options{Pace: pace})
	c := mustLogin(t, addr, "alice")
	start := time.Now()
	if _, err := appendMsg(c, "INBOX", testBody(1, size), nil); err != nil {
		t.Fatalf("APPEND = %v", err)
	}
	mustSelect(t, c, "INBOX")
	got, err := fetchBodies(t, c, 1)
	if err != nil || len(got[1]) != size {
		t.Fatalf("FETCH = %d bytes, %v; want %d", len(got[1]), err, size)
	}
	// Up and down: 2 × 300 KiB at 200 KiB/s each way is at least 1.5 s
	// (each direction has its own account, and they ran one after the other).
	if took, least := time.Since(start), 2*time.Duration(float64(size)/pace*float64(time.Second))-100*time.Millisecond; took < least {
		t.Errorf("APPEND and FETCH of %d bytes at %d B/s took %v, want at least %v", size, pace, took, least)
	}
}

// TestPaceCloseDoesNotWait: closing a paced server ends its connections
// without waiting for the pace.
func TestPaceCloseDoesNotWait(t *testing.T) {
	s := New(Options{Pace: 1024}) // 1 KiB/s: a 1 MiB APPEND would take 17 minutes
	s.AddUser("alice", "alicepw")
	addr, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := mustLogin(t, addr, "alice")
	done := make(chan error, 1)
	go func() {
		_, err := appendMsg(c, "INBOX", testBody(1, 1<<20), nil)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the APPEND start; not needed for correctness
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := <-closed; err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := <-done; err == nil {
		t.Errorf("APPEND on a closed server succeeded")
	}
}
