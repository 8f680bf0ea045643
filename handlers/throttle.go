package handlers

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sign-in throttling. Failures are counted per login and per client address
// over a window; past a free allowance each further failure doubles the wait
// before the next attempt is even checked, up to a lock of lockFor. While a
// key waits, every attempt for it is refused without asking the directory,
// the right password included: guessing costs time, not directory binds.
const (
	freeFailures  = 5                // per login before any wait
	freeFromAddr  = 20               // per client address (a NAT, an office) before any wait
	failureWindow = 15 * time.Minute // failures older than this are forgotten
	lockFor       = 15 * time.Minute // the longest wait
	maxTracked    = 10000            // keys kept; the oldest go first
)

type throttleEntry struct {
	failures int
	last     time.Time // last failure
	until    time.Time // no attempt before
}

// signinThrottle is safe for concurrent use.
type signinThrottle struct {
	mu   sync.Mutex
	keys map[string]*throttleEntry
}

func newSigninThrottle() *signinThrottle {
	return &signinThrottle{keys: map[string]*throttleEntry{}}
}

func loginKey(login string) string { return "login:" + strings.ToLower(login) }
func addrKey(addr string) string   { return "addr:" + addr }

// wait returns how long the attempt for login from addr must wait (0: may
// try now).
func (t *signinThrottle) wait(now time.Time, login, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range []string{loginKey(login), addrKey(addr)} {
		if e := t.keys[k]; e != nil && now.Before(e.until) {
			d = max(d, e.until.Sub(now))
		}
	}
	return d
}

// failed records a failed attempt and returns the wait it imposes now.
func (t *signinThrottle) failed(now time.Time, login, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range []struct {
		key  string
		free int
	}{{loginKey(login), freeFailures}, {addrKey(addr), freeFromAddr}} {
		e := t.keys[k.key]
		if e == nil || now.Sub(e.last) > failureWindow {
			if e == nil && len(t.keys) >= maxTracked {
				t.evictOldest()
			}
			e = &throttleEntry{}
			t.keys[k.key] = e
		}
		e.failures++
		e.last = now
		if over := e.failures - k.free; over > 0 {
			w := lockFor
			if over < 11 { // 1 s, 2 s, 4 s … until it reaches lockFor
				w = min(time.Second<<(over-1), lockFor)
			}
			e.until = now.Add(w)
			d = max(d, w)
		}
	}
	return d
}

// succeeded forgets the login's failures (not the address's: one right
// password must not reset a guesser's count for other accounts).
func (t *signinThrottle) succeeded(login string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, loginKey(login))
}

func (t *signinThrottle) evictOldest() {
	var oldest string
	var at time.Time
	for k, e := range t.keys {
		if oldest == "" || e.last.Before(at) {
			oldest, at = k, e.last
		}
	}
	delete(t.keys, oldest)
}

// waitText says how long to wait, rounded up to what a person reads.
func waitText(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "a second"
	case d < time.Minute:
		return strconv.Itoa(int((d+time.Second-1)/time.Second)) + " seconds"
	default:
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "a minute"
		}
		return strconv.Itoa(m) + " minutes"
	}
}
