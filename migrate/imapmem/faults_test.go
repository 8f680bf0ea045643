package imapmem

import (
	"errors"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestFailFetchOnceThenSuccess(t *testing.T) {
	s, addr := mustServer(t, Options{})
	body := testBody(1, 500)
	uid := mustAdd(t, s, "alice", "INBOX", body)
	s.Faults().FailFetch("alice", "INBOX", uid, 1)

	c := mustLogin(t, addr, "alice")
	mustSelect(t, c, "INBOX")
	got, err := fetchBodies(t, c, uid)
	if code, _ := imapCode(err); code != imap.ResponseCodeServerBug || len(got) != 0 {
		t.Fatalf("first fetch = %d messages, %v, want none and NO [SERVERBUG]", len(got), err)
	}
	got, err = fetchBodies(t, c, uid)
	if err != nil || got[uid] != string(body) {
		t.Fatalf("second fetch = %q, %v, want the body", got[uid], err)
	}
	if got, want := s.Faults().Counts().FetchBodies, 2; got != want {
		t.Errorf("Counts().FetchBodies = %d, want %d", got, want)
	}
}

func TestFailFetchAlwaysOthersDelivered(t *testing.T) {
	s, addr := mustServer(t, Options{})
	var uids []imap.UID
	for i := range 3 {
		uids = append(uids, mustAdd(t, s, "alice", "INBOX", testBody(i, 400)))
	}
	s.Faults().FailFetch("alice", "INBOX", uids[1], -1)

	c := mustLogin(t, addr, "alice")
	mustSelect(t, c, "INBOX")
	for attempt := range 2 {
		got, err := fetchBodies(t, c, uids...)
		if code, _ := imapCode(err); code != imap.ResponseCodeServerBug {
			t.Errorf("fetch #%d Close() = %v, want NO [SERVERBUG]", attempt+1, err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []imap.UID{uids[0], uids[2]}) {
			t.Errorf("fetch #%d UIDs = %v, want %v", attempt+1, keys, []imap.UID{uids[0], uids[2]})
		}
	}
	// The connection stays usable.
	if err := c.Noop().Wait(); err != nil {
		t.Errorf("Noop() = %v", err)
	}
}

func TestCutFetch(t *testing.T) {
	s, addr := mustServer(t, Options{})
	first := mustAdd(t, s, "alice", "INBOX", testBody(1, 3000))
	uid := mustAdd(t, s, "alice", "INBOX", testBody(2, 3000))
	const after = 1234
	s.Faults().CutFetch("alice", "INBOX", uid, after, 1)

	c := mustLogin(t, addr, "alice")
	mustSelect(t, c, "INBOX")
	// The preceding message in the same command arrives whole.
	cmd := c.Fetch(imap.UIDSetNum(first, uid), &imap.FetchOptions{
		UID:          true,
		InternalDate: true,
		Envelope:     true,
		BodySection:  []*imap.FetchItemBodySection{{Peek: true}},
	})
	var sizes, read []int64
	short := false
	for !short {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for item := msg.Next(); item != nil; item = msg.Next() {
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok {
				continue
			}
			// imapclient reports the short literal as a plain EOF: the
			// reader sees fewer bytes than Size().
			n, _ := io.Copy(io.Discard, body.Literal)
			sizes, read = append(sizes, body.Literal.Size()), append(read, n)
			if n < body.Literal.Size() {
				// Calling msg.Next() or cmd.Close() now would make
				// imapclient drain the short literal again, racing with its
				// reader goroutine (go-imap v2.0.0-beta.8): wait for that
				// goroutine to end first, as the mover must.
				short = true
				break
			}
		}
	}
	// The server closed the connection: the client's reader ends.
	<-c.Closed()
	if err := cmd.Close(); err == nil {
		t.Errorf("FetchCommand.Close() = nil, want an error")
	}
	if want := []int64{3000, 3000}; !slices.Equal(sizes, want) {
		t.Fatalf("literal sizes = %v, want %v", sizes, want)
	}
	if want := []int64{3000, after}; !slices.Equal(read, want) {
		t.Errorf("bytes read = %v, want %v", read, want)
	}

	// The fault was for one time: a new connection reads the message.
	c2 := mustLogin(t, addr, "alice")
	mustSelect(t, c2, "INBOX")
	got, err := fetchBodies(t, c2, uid)
	if err != nil || len(got[uid]) != 3000 {
		t.Errorf("fetch after cut = %d bytes, %v, want 3000", len(got[uid]), err)
	}
}

func TestHang(t *testing.T) {
	s, addr := mustServer(t, Options{})
	c := mustLogin(t, addr, "alice")
	s.Faults().Hang("alice")

	done := make(chan error, 1)
	go func() {
		_, err := c.Select("INBOX", nil).Wait()
		done <- err
	}()
	waitFor(t, func() bool { return s.Faults().Waiting() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Select() on a hung session returned %v", err)
	default:
	}
	// The mover closes the client from context.AfterFunc.
	if err := c.Close(); err != nil {
		t.Errorf("client Close() = %v", err)
	}
	if err := <-done; err == nil {
		t.Errorf("Select() after client Close = nil, want an error")
	}
	// Close must return although the server session is still hung.
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if got := s.Faults().Waiting(); got != 0 {
		t.Errorf("Waiting() after Close = %d, want 0", got)
	}
}

func TestUnhang(t *testing.T) {
	s, addr := mustServer(t, Options{})
	s.Faults().Hang("alice")
	done := make(chan error, 1)
	c := mustDial(t, addr)
	go func() { done <- c.Login("alice", "alicepw").Wait() }()
	waitFor(t, func() bool { return s.Faults().Waiting() == 1 })
	// Bob is not hung.
	mustLogin(t, addr, "bob")
	s.Faults().Unhang()
	if err := <-done; err != nil {
		t.Errorf("Login() after Unhang = %v, want nil", err)
	}
}

// waitFor polls cond, yielding between tries; the test's own deadline bounds
// it, so no wall-clock assertion is made.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatal(errors.New("test cancelled while waiting"))
		}
		time.Sleep(time.Millisecond)
	}
}
