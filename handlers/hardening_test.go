package handlers_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// multipartPost sends a form with one file part of size n.
func multipartPost(t *testing.T, a *testApp, c *http.Client, path string, fields map[string]string, file string, n int) *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile(file, "big.csv")
		line := []byte("user01\n")
		for written := 0; written < n; written += len(line) {
			if _, err := fw.Write(line); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+path, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", a.ts.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func multipartLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "multipart-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBodyLimits: an anonymous 60 MB multipart sign-in is refused with 413
// without a byte on disk; an admin's CSV upload larger than the in-memory
// part goes through a temporary file that is gone after the request (the
// session middleware replaces the request, so net/http's own cleanup does
// not see the form); an upload over its limit is refused.
func TestBodyLimits(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	a := newTestApp(t)

	resp := multipartPost(t, a, http.DefaultClient, "/signin", map[string]string{"login": "a", "password": "x"}, "f", 60<<20)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("60 MB sign-in: status %d, want 413", resp.StatusCode)
	}
	if left := multipartLeftovers(t, tmp); len(left) > 0 {
		t.Errorf("after the sign-in: %v left in TMPDIR", left)
	}

	admin := a.admin(t)
	resp = multipartPost(t, a, admin, "/wizard/users", map[string]string{"action": "import"}, "csv", 3<<20)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestEntityTooLarge {
		t.Errorf("3 MiB CSV import: status %d", resp.StatusCode)
	}
	if left := multipartLeftovers(t, tmp); len(left) > 0 {
		t.Errorf("after a 3 MiB import: %v left in TMPDIR", left)
	}

	resp = multipartPost(t, a, admin, "/wizard/users", map[string]string{"action": "import"}, "csv", 9<<20)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("9 MiB CSV import: status %d, want 413", resp.StatusCode)
	}
	if left := multipartLeftovers(t, tmp); len(left) > 0 {
		t.Errorf("after a refused import: %v left in TMPDIR", left)
	}

	big := url.Values{"login": {strings.Repeat("a", 70<<10)}, "password": {"x"}}
	r, body := a.post(t, http.DefaultClient, "/signin", big)
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than this page accepts") {
		t.Errorf("70 KiB sign-in form: status %d, body without the reason", r.StatusCode)
	}
}

// TestSignInThrottle: after the free failures the login must wait, the
// right password included, with a sentence that says so; failures are
// logged at WARN with login and address, never the password; another
// login from elsewhere is not affected.
func TestSignInThrottle(t *testing.T) {
	a := newTestApp(t)
	logs := &syncBuffer{}
	a.srv.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	const wrong = "not-the-password-42"
	for i := 0; i < 6; i++ {
		r, _ := a.post(t, http.DefaultClient, "/signin", url.Values{"login": {"alice"}, "password": {wrong}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	r, body := a.post(t, http.DefaultClient, "/signin", url.Values{"login": {"alice"}, "password": {"alicepw"}})
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("right password after 6 failures: status %d, want 429 with the reason", r.StatusCode)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	out := logs.String()
	if n := strings.Count(out, `msg="sign-in failed" login=alice addr=127.0.0.1`); n != 6 {
		t.Errorf("%d WARN lines for the failures, want 6:\n%s", n, out)
	}
	if strings.Contains(out, wrong) || strings.Contains(out, "alicepw") {
		t.Errorf("a password is in the log:\n%s", out)
	}
	// hank signs in fine: the address has not reached its own allowance.
	c := a.helpdesk(t)
	if resp, _ := a.get(t, c, "/jobs"); resp.StatusCode != http.StatusOK {
		t.Errorf("hank after alice's lock: GET /jobs status %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), `msg="signed in" user=hank role=helpdesk addr=127.0.0.1`) {
		t.Errorf("no INFO line for hank's sign-in:\n%s", logs.String())
	}
}

// TestEventStreamsPerUser: one person may hold a bounded number of live
// streams; the next is refused with a sentence, and closing one frees a
// place.
func TestEventStreamsPerUser(t *testing.T) {
	a := newTestApp(t)
	j := a.createJob(t, "user01")
	a.waitJob(t, j.ID)
	c := a.helpdesk(t)
	open := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/jobs/%d/events", a.ts.URL, j.ID), nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var streams []*http.Response
	for i := 0; i < 8; i++ {
		resp := open()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: status %d", i+1, resp.StatusCode)
		}
		// The snapshot arrives: the server counted this stream.
		buf := make([]byte, 1)
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
		streams = append(streams, resp)
	}
	resp := open()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "Too many live pages") {
		t.Fatalf("9th stream: status %d %q, want 429 with the reason", resp.StatusCode, b)
	}
	for _, s := range streams {
		s.Body.Close()
	}
}
