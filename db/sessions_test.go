package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// A new session's role counts as checked at sign-in; SetSessionRole records
// a re-check (a changed role included) and SessionByToken reads it back.
func TestSessionRoleCheckedAt(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	token, s, err := d.CreateSession(ctx, Session{UID: "hank", DN: "uid=hank,dc=x", Role: model.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatalf("CreateSession() = %v", err)
	}
	got, err := d.SessionByToken(ctx, token)
	if err != nil {
		t.Fatalf("SessionByToken() = %v", err)
	}
	if !got.RoleCheckedAt.Equal(testNow) || !s.RoleCheckedAt.Equal(testNow) {
		t.Errorf("RoleCheckedAt = %v (returned %v), want the sign-in time %v", got.RoleCheckedAt, s.RoleCheckedAt, testNow)
	}

	later := testNow.Add(3 * time.Minute)
	if err := d.SetSessionRole(ctx, s.ID, model.RoleHelpdesk, later); err != nil {
		t.Fatalf("SetSessionRole() = %v", err)
	}
	got, err = d.SessionByToken(ctx, token)
	if err != nil {
		t.Fatalf("SessionByToken() = %v", err)
	}
	if got.Role != model.RoleHelpdesk || !got.RoleCheckedAt.Equal(later) {
		t.Errorf("after SetSessionRole: role %s checked %v, want helpdesk at %v", got.Role, got.RoleCheckedAt, later)
	}

	if err := d.DeleteSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.SetSessionRole(ctx, s.ID, model.RoleHelpdesk, later); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetSessionRole(deleted session) = %v, want ErrNotFound", err)
	}
}

// Sessions made before migration 0004 have no check time: the zero time,
// so that the web UI checks them at their next request.
func TestSessionRoleCheckedAtMissing(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	token, s, err := d.CreateSession(ctx, Session{UID: "a", DN: "uid=a", Role: model.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.ExecContext(ctx, `UPDATE sessions SET role_checked_at = '' WHERE id = ?`, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err := d.SessionByToken(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RoleCheckedAt.IsZero() {
		t.Errorf("RoleCheckedAt = %v, want zero", got.RoleCheckedAt)
	}
}
