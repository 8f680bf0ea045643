package imapmem

import (
	"crypto/subtle"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"
)

// Login implements imapserver.Session. Besides the user's own password it
// accepts Dovecot's master-user form: LOGIN "user*admin" adminpassword.
func (sess *session) Login(username, password string) error {
	if u, admin, ok := strings.Cut(username, "*"); ok && sess.srv.opts.AdminUser != "" {
		return sess.loginAs(u, admin, password, true)
	}
	return sess.loginAs(username, username, password, false)
}

// AuthenticateMechanisms implements imapserver.SessionSASL.
func (sess *session) AuthenticateMechanisms() []string {
	return []string{sasl.Plain}
}

// Authenticate implements imapserver.SessionSASL. PLAIN with an authorization
// identity different from the authentication identity is an admin acting as
// that user (RFC 4616 section 2).
func (sess *session) Authenticate(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity == "" || identity == username {
			return sess.Login(username, password)
		}
		return sess.loginAs(identity, username, password, true)
	}), nil
}

// loginAs authenticates authcID with password and, on success, starts a
// session as target. asAdmin says authcID must be the admin.
func (sess *session) loginAs(target, authcID, password string, asAdmin bool) error {
	srv := sess.srv
	if err := srv.faults.waitHang(target, srv.done); err != nil {
		return err
	}
	if err := srv.faults.loginAttempt(target); err != nil {
		return err
	}
	u, err := srv.user(target)
	if err != nil {
		return imapserver.ErrAuthFailed
	}
	srv.mu.Lock()
	want := u.password
	if asAdmin {
		want = srv.opts.AdminPassword
	}
	srv.mu.Unlock()
	if asAdmin && (srv.opts.AdminUser == "" || authcID != srv.opts.AdminUser) {
		return imapserver.ErrAuthFailed
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 {
		return imapserver.ErrAuthFailed
	}
	sess.user = u
	return nil
}
