package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// Session is a signed-in person.
type Session struct {
	ID        string // SHA-256 of the token, hex
	UID, DN   string
	Name      string
	Role      model.Role
	CreatedAt time.Time
	ExpiresAt time.Time
	// RoleCheckedAt is when Role was last confirmed against the directory
	// (the sign-in, then every re-check; zero: never).
	RoleCheckedAt time.Time
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateSession stores a new session and returns its token (for the
// cookie). A new token at every sign-in prevents session fixation.
func (d *DB) CreateSession(ctx context.Context, s Session, ttl time.Duration) (string, Session, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Session{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := d.Now()
	s.ID, s.CreatedAt, s.ExpiresAt = hashToken(token), now, now.Add(ttl)
	if s.RoleCheckedAt.IsZero() {
		s.RoleCheckedAt = now // the sign-in has just read the role
	}
	err := execTx(ctx, d, func(tx *sql.Tx) error {
		// Expired sessions are removed here, so the table stays small.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, formatTime(d.Now())); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, uid, dn, name, role, created_at, expires_at, role_checked_at)
			VALUES (?,?,?,?,?,?,?,?)`, s.ID, s.UID, s.DN, s.Name, s.Role, formatTime(s.CreatedAt), formatTime(s.ExpiresAt),
			formatTime(s.RoleCheckedAt))
		return err
	})
	if err != nil {
		return "", Session{}, fmt.Errorf("create session: %w", err)
	}
	return token, s, nil
}

// SessionByToken returns the unexpired session of a cookie token.
func (d *DB) SessionByToken(ctx context.Context, token string) (Session, error) {
	var s Session
	var created, expires, checked string
	err := d.sql.QueryRowContext(ctx, `SELECT id, uid, dn, name, role, created_at, expires_at, role_checked_at
		FROM sessions WHERE id = ? AND expires_at > ?`, hashToken(token), formatTime(d.Now())).
		Scan(&s.ID, &s.UID, &s.DN, &s.Name, &s.Role, &created, &expires, &checked)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	s.CreatedAt, s.ExpiresAt, s.RoleCheckedAt = parseTime(created), parseTime(expires), parseTime(checked)
	return s, err
}

// SetSessionRole records the outcome of a role re-check: the session's role
// (which may have changed, e.g. admin to helpdesk) confirmed at checkedAt.
// The error wraps ErrNotFound when the session no longer exists.
func (d *DB) SetSessionRole(ctx context.Context, id string, role model.Role, checkedAt time.Time) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE sessions SET role = ?, role_checked_at = ? WHERE id = ?`,
		role, formatTime(checkedAt), id)
	if err != nil {
		return fmt.Errorf("set session role: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("session: %w", ErrNotFound)
	}
	return nil
}

// DeleteSession signs a session out.
func (d *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// WizardState returns the wizard's JSON state of a session ("" if none).
func (d *DB) WizardState(ctx context.Context, sessionID string) (string, error) {
	var data string
	err := d.sql.QueryRowContext(ctx, `SELECT data FROM wizard_state WHERE session_id = ?`, sessionID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return data, err
}

// SaveWizardState stores the wizard's JSON state of a session.
func (d *DB) SaveWizardState(ctx context.Context, sessionID, data string) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO wizard_state (session_id, data, updated_at) VALUES (?,?,?)
		ON CONFLICT (session_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		sessionID, data, formatTime(d.Now()))
	return err
}
