package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// WebhookSink is an HTTP server on 127.0.0.1 that keeps every POST it
// answered 204 to, and can answer 500 to a number of requests first.
type WebhookSink struct {
	URL string // the hook's URL

	srv  *httptest.Server
	mu   sync.Mutex
	cond *sync.Cond
	got  []SinkPost
	fail int
}

// SinkPost is one request the sink accepted.
type SinkPost struct {
	Header http.Header
	Body   []byte
}

// StartWebhookSink starts a sink at path /hook; it stops in t.Cleanup.
func StartWebhookSink(t testing.TB) *WebhookSink {
	t.Helper()
	s := &WebhookSink{}
	s.cond = sync.NewCond(&s.mu)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/hook"
	t.Cleanup(s.srv.Close)
	return s
}

// FailNext makes the next n requests get 500.
func (s *WebhookSink) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// Posts returns the requests accepted so far.
func (s *WebhookSink) Posts() []SinkPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkPost(nil), s.got...)
}

// WaitPosts blocks until the sink accepted n requests or done is closed.
func (s *WebhookSink) WaitPosts(n int, done <-chan struct{}) []SinkPost {
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
		case <-stop:
		}
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.got) < n {
		select {
		case <-done:
			return append([]SinkPost(nil), s.got...)
		default:
		}
		s.cond.Wait()
	}
	return append([]SinkPost(nil), s.got...)
}

func (s *WebhookSink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.URL.Path != "/hook" {
		http.Error(w, "POST /hook only", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail > 0 {
		s.fail--
		http.Error(w, "failing as told", http.StatusInternalServerError)
		return
	}
	s.got = append(s.got, SinkPost{Header: r.Header.Clone(), Body: body})
	s.cond.Broadcast()
	w.WriteHeader(http.StatusNoContent)
}
