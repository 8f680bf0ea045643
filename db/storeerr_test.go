package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/migrate/model"
)

func TestIsStoreErrorAnswersAreNot(t *testing.T) {
	for _, err := range []error{nil, sql.ErrNoRows, ErrNotFound, ErrConflict,
		fmt.Errorf("move 3: %w", ErrNotFound), errors.New("database or disk is full"),
		context.Canceled} {
		if IsStoreError(err) {
			t.Errorf("IsStoreError(%v) = true, want false", err)
		}
	}
	for _, err := range []error{sql.ErrConnDone, sql.ErrTxDone, fmt.Errorf("commit: %w", sql.ErrTxDone)} {
		if !IsStoreError(err) {
			t.Errorf("IsStoreError(%v) = false, want true", err)
		}
	}
}

// TestIsStoreErrorClosed: every call on a closed store fails with
// database/sql's "database is closed", matched by identity.
func TestIsStoreErrorClosed(t *testing.T) {
	if errDBClosed == nil || errDBClosed.Error() != "sql: database is closed" {
		t.Fatalf("errDBClosed = %v, want database/sql's closed-pool error", errDBClosed)
	}
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = d.CancelRequested(ctx, 1)
	if !IsStoreError(err) || !IsStoreError(fmt.Errorf("check cancel: %w", err)) {
		t.Errorf("CancelRequested on a closed store = %v; IsStoreError false", err)
	}
	if err := d.SaveMove(ctx, model.Move{ID: 1}); !IsStoreError(err) {
		t.Errorf("SaveMove on a closed store = %v; IsStoreError false", err)
	}
}

// TestIsStoreErrorFull fills a database for real: max_page_count caps the
// file at its current size, as a full disk does, and SQLite answers
// SQLITE_FULL.
func TestIsStoreErrorFull(t *testing.T) {
	ctx := context.Background()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1) // the pragma holds per connection
	for _, q := range []string{`CREATE TABLE t (b BLOB)`, `PRAGMA max_page_count = 4`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var full error
	for i := 0; i < 100 && full == nil; i++ {
		_, full = raw.ExecContext(ctx, `INSERT INTO t VALUES (zeroblob(1000))`)
	}
	if full == nil {
		t.Fatal("the capped database never filled up")
	}
	wrapped := fmt.Errorf("record copies of %q: %w", "INBOX", full)
	if !IsStoreError(wrapped) {
		t.Errorf("IsStoreError(%v) = false, want true", wrapped)
	}
	if !strings.Contains(full.Error(), "database or disk is full") {
		t.Errorf("error = %q, want SQLite's full-disk message", full)
	}
}

// TestIsStoreErrorLocked: a writer that cannot get the lock (another
// process holds it past busy_timeout) gets SQLITE_BUSY.
func TestIsStoreErrorLocked(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	holder := mustOpenDBAt(t, path)
	tx, err := holder.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_, err = raw.ExecContext(ctx, `UPDATE moves SET error = 'x'`)
	if err == nil {
		t.Fatal("a second writer got past the held lock")
	}
	if !IsStoreError(err) {
		t.Errorf("IsStoreError(%v) = false, want true", err)
	}
}
