package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/db"
)

// storeFull returns a real SQLITE_FULL: a database capped at its size.
func storeFull(t *testing.T) error {
	t.Helper()
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
	for i := 0; i < 100; i++ {
		if _, err := raw.ExecContext(ctx, `INSERT INTO t VALUES (zeroblob(1000))`); err != nil {
			return err
		}
	}
	t.Fatal("the capped database never filled up")
	return nil
}

// storeClosed returns what every call on a closed job store returns.
func storeClosed(t *testing.T) error {
	t.Helper()
	d, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "mw.db"))
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err = d.CancelRequested(context.Background(), 1)
	if err == nil {
		t.Fatal("a closed store answered")
	}
	return err
}

func TestErrorClassification(t *testing.T) {
	full, closed := storeFull(t), storeClosed(t)
	for _, tc := range []struct {
		name                string
		err                 error
		connLoss, transient bool
	}{
		{"store full", fmt.Errorf("save move 1: %w", full), false, false},
		{"store closed", fmt.Errorf("record copies: %w", closed), false, false},
		{"tx done", fmt.Errorf("commit: %w", sql.ErrTxDone), false, false},
		{"conn done", sql.ErrConnDone, false, false},
		{"eof", fmt.Errorf("fetch: %w", io.EOF), true, true},
		{"undecodable reply", fmt.Errorf("in response: %v", io.ErrUnexpectedEOF), true, true},
		{"short literal", errShortLiteral, true, true},
		{"bye", &imap.Error{Type: imap.StatusResponseTypeBye, Text: "shutting down"}, true, true},
		{"no", &imap.Error{Type: imap.StatusResponseTypeNo, Text: "no such message"}, false, false},
		{"throttled", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit}, false, true},
		{"abandon", abandonf("over quota"), false, false},
		{"permanent", permanent(io.EOF), false, false},
		{"cancelled", context.Canceled, false, false},
	} {
		if got := isConnLoss(tc.err); got != tc.connLoss {
			t.Errorf("%s: isConnLoss(%v) = %v, want %v", tc.name, tc.err, got, tc.connLoss)
		}
		if got := isTransient(tc.err); got != tc.transient {
			t.Errorf("%s: isTransient(%v) = %v, want %v", tc.name, tc.err, got, tc.transient)
		}
	}
	if !db.IsStoreError(full) || !db.IsStoreError(closed) {
		t.Errorf("IsStoreError(%v) / (%v) = false", full, closed)
	}
}
