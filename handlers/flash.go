package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Flash messages travel in the redirect's URL (Post/Redirect/Get without
// server state), signed with a per-process key together with the session
// they were made for and an expiry: nobody can craft a link that makes our
// page say something we did not, and a flash link copied to another person
// (another session) or reloaded later than flashTTL shows nothing.
var (
	flashKeyOnce sync.Once
	flashKey     []byte
)

// flashTTL is how long a flash stays valid after its redirect.
const flashTTL = time.Minute

// flashMAC signs msg for the session sessionID until expires (Unix seconds).
func flashMAC(sessionID string, expires int64, msg string) string {
	flashKeyOnce.Do(func() {
		flashKey = make([]byte, 32)
		if _, err := rand.Read(flashKey); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
	})
	m := hmac.New(sha256.New, flashKey)
	// Length-prefixed fields: no two different triples sign the same bytes.
	for _, f := range []string{sessionID, strconv.FormatInt(expires, 10), msg} {
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// flashSig is the fs parameter of msg for sessionID made at now:
// "<expiry>.<mac>".
func flashSig(sessionID, msg string, now time.Time) string {
	exp := now.Add(flashTTL).Unix()
	return strconv.FormatInt(exp, 10) + "." + flashMAC(sessionID, exp, msg)
}

// flashValid reports whether sig is msg's signature for sessionID, unexpired
// at now.
func flashValid(sessionID, msg, sig string, now time.Time) bool {
	expText, mac, ok := strings.Cut(sig, ".")
	if !ok || sessionID == "" || msg == "" {
		return false
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || now.Unix() > exp {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(flashMAC(sessionID, exp, msg)))
}

// redirectFlash redirects (303) to a local path, which may carry a query,
// with a message to show to the signed-in person of r (without a session
// the message is dropped: there is nobody to bind it to).
func redirectFlash(w http.ResponseWriter, r *http.Request, path, msg string) {
	u, err := url.Parse(path)
	sess, ok := sessionFrom(r.Context())
	if err != nil || !ok {
		http.Redirect(w, r, path, http.StatusSeeOther)
		return
	}
	q := u.Query()
	q.Set("flash", msg)
	q.Set("fs", flashSig(sess.ID, msg, time.Now()))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// flashFrom returns the request's flash message if its signature holds for
// the request's session and has not expired.
func flashFrom(r *http.Request) string {
	sess, ok := sessionFrom(r.Context())
	if !ok {
		return ""
	}
	q := r.URL.Query()
	msg := q.Get("flash")
	if !flashValid(sess.ID, msg, q.Get("fs"), time.Now()) {
		return ""
	}
	return msg
}
