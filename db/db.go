// Package db stores jobs, moves and per-folder move checkpoints in SQLite.
//
// Every public function runs in its own transaction; progress that the runner
// publishes to browsers is always committed here first.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a row asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a change would break an invariant, such as a
// user in two unfinished moves.
var ErrConflict = errors.New("conflict")

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the job store.
type DB struct {
	sql *sql.DB
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Open opens (creating if needed) the database at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	// WAL: readers (the web pages) never block the runner's writes.
	q.Add("_pragma", "journal_mode(WAL)")
	// busy_timeout: a second writer waits instead of failing with SQLITE_BUSY.
	q.Add("_pragma", "busy_timeout(10000)")
	// foreign_keys: SQLite leaves them off unless asked, per connection.
	q.Add("_pragma", "foreign_keys(1)")
	// synchronous NORMAL is durable against a killed process (the crash we
	// promise to survive) and much faster than FULL under WAL.
	q.Add("_pragma", "synchronous(NORMAL)")
	// BEGIN IMMEDIATE: take the write lock at the start of a transaction, so
	// concurrent writers queue on busy_timeout instead of deadlocking.
	q.Set("_txlock", "immediate")
	// Escape the path: '#', '?' and '%' in a file name would otherwise
	// change which file the URI names.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d := &DB{sql: sdb, Now: time.Now}
	err = d.migrate(ctx)
	// Switching a brand-new file to WAL fails at once with SQLITE_BUSY when
	// another connection does the same (busy_timeout does not apply to
	// that), so several processes opening a new database retry briefly.
	for i := 0; i < 100 && isBusy(err) && ctx.Err() == nil; i++ {
		time.Sleep(10 * time.Millisecond)
		err = d.migrate(ctx)
	}
	if err != nil {
		sdb.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// migrate applies each embedded migration not yet recorded, each in its own
// transaction, in file name order.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.sql.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := d.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (d *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// Times are stored as RFC 3339 text in UTC so that they sort and read well
// in the sqlite3 shell; the zero time is the empty string.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isBusy reports SQLITE_BUSY (5) or SQLITE_LOCKED (6) from the driver.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	if !errors.As(err, &coded) {
		return false
	}
	code := coded.Code() & 0xff // extended codes keep the primary in the low byte
	return code == 5 || code == 6
}

// openStates is model.OpenMoveStates as an SQL list, "('queued','running')":
// every query for unfinished moves uses it, so the list lives in one place.
var openStates = func() string {
	q := make([]string, len(model.OpenMoveStates))
	for i, s := range model.OpenMoveStates {
		q[i] = "'" + string(s) + "'"
	}
	return "(" + strings.Join(q, ",") + ")"
}()
