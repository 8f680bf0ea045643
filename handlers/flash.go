package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
)

// Flash messages travel in the redirect's URL (Post/Redirect/Get without
// server state), signed with a per-process key so that nobody can craft a
// link that makes our page say something we did not.
var (
	flashKeyOnce sync.Once
	flashKey     []byte
)

func flashMAC(msg string) string {
	flashKeyOnce.Do(func() {
		flashKey = make([]byte, 32)
		if _, err := rand.Read(flashKey); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
	})
	m := hmac.New(sha256.New, flashKey)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// redirectFlash redirects (303) to a local path, which may carry a query,
// with a message to show.
func redirectFlash(w http.ResponseWriter, r *http.Request, path, msg string) {
	u, err := url.Parse(path)
	if err != nil {
		http.Redirect(w, r, path, http.StatusSeeOther)
		return
	}
	q := u.Query()
	q.Set("flash", msg)
	q.Set("fs", flashMAC(msg))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// flashFrom returns the request's flash message if its signature holds.
func flashFrom(r *http.Request) string {
	q := r.URL.Query()
	msg, sig := q.Get("flash"), q.Get("fs")
	if msg == "" || !hmac.Equal([]byte(sig), []byte(flashMAC(msg))) {
		return ""
	}
	return msg
}
