package db

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate/model"
)

// testNow is the fixed clock of every test. It is deliberately not in UTC so
// that the tests see the store normalise times to UTC.
var testNow = time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*60*60))

// mustOpenDB opens a fresh database in a temporary directory with the fixed
// clock, and closes it when the test ends.
func mustOpenDB(t *testing.T) *DB {
	t.Helper()
	return mustOpenDBAt(t, filepath.Join(t.TempDir(), "jobs.db"))
}

// mustOpenDBAt opens the database at path with the fixed clock.
func mustOpenDBAt(t *testing.T, path string) *DB {
	t.Helper()
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	d.Now = func() time.Time { return testNow }
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return d
}

// testJob is a job that satisfies the table's CHECK constraints.
func testJob() model.Job {
	return model.Job{
		CreatedBy: "admin",
		Target:    "imap2.example.org",
		Policy:    model.PolicySkip,
		MaxBad:    3,
		Parallel:  4,
	}
}

// mustCreateJob creates a job of testJob() for uids and returns it with its
// moves in uid order.
func mustCreateJob(t *testing.T, d *DB, uids ...string) (model.Job, []model.Move) {
	t.Helper()
	ctx := context.Background()
	j, err := d.CreateJob(ctx, testJob(), uids)
	if err != nil {
		t.Fatalf("CreateJob(%v) = %v", uids, err)
	}
	ms, err := d.Moves(ctx, j.ID)
	if err != nil {
		t.Fatalf("Moves(%d) = %v", j.ID, err)
	}
	if len(ms) != len(uids) {
		t.Fatalf("Moves(%d) returned %d moves, want %d", j.ID, len(ms), len(uids))
	}
	return j, ms
}

// mustFinishMove saves m with state done, releasing its user.
func mustFinishMove(t *testing.T, d *DB, m model.Move) model.Move {
	t.Helper()
	m.State = model.MoveDone
	m.Phase = model.PhaseDone
	m.FinishedAt = testNow
	if err := d.SaveMove(context.Background(), m); err != nil {
		t.Fatalf("SaveMove(%d done) = %v", m.ID, err)
	}
	return m
}

func countRows(t *testing.T, d *DB, table string) int {
	t.Helper()
	var n int
	if err := d.sql.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestOpenTwiceAppliesMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")

	d1, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	d1.Now = func() time.Time { return testNow }
	j, err := d1.CreateJob(ctx, testJob(), []string{"alice"})
	if err != nil {
		t.Fatalf("CreateJob() = %v", err)
	}
	if err := d1.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	// Reopening must neither fail on "table already exists" nor lose data.
	d2 := mustOpenDBAt(t, path)
	if _, err := d2.Job(ctx, j.ID); err != nil {
		t.Errorf("Job(%d) after reopen = %v", j.ID, err)
	}
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := d2.sql.Query(`SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("schema_migrations has %d rows for %s, want 1", n, name)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			want = append(want, "migrations/"+f.Name())
		}
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("schema_migrations = %v, want %v", names, want)
	}
}

// TestOpenConcurrently stands in for two processes starting at once on a new
// file: both must come up, and the migrations must run exactly once.
//
// BUG (db.go, Open: the journal_mode(WAL) pragma in the DSN): on a brand new
// file, PRAGMA journal_mode=WAL run by several connections at once can fail
// at once with plain SQLITE_BUSY; SQLite does not call the busy handler for
// it, so busy_timeout does not help. It surfaces as "create
// schema_migrations: database is locked (5)", about 1 Open in 100 here. The
// cmd takes Lock before Open, which avoids it there; any other opener (a
// second web process, a test harness) does not. Fix: drop journal_mode from
// the DSN and set it once in migrate, retrying on SQLITE_BUSY, or document
// that Open of a possibly new file must be done under Lock.
func TestOpenConcurrently(t *testing.T) {
	// Many fresh files, as each race is lost only now and then.
	for iter := range 100 {
		path := filepath.Join(t.TempDir(), "jobs.db")
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		dbs := make([]*DB, n)
		for i := range n {
			wg.Go(func() {
				dbs[i], errs[i] = Open(context.Background(), path)
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("file %d: Open() #%d = %v", iter, i, errs[i])
				continue
			}
			if err := dbs[i].Close(); err != nil {
				t.Errorf("file %d: Close() #%d = %v", iter, i, err)
			}
		}
		d, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("file %d: Open() after the race = %v", iter, err)
		}
		files, _ := filepath.Glob("migrations/*.sql")
		if got := countRows(t, d, "schema_migrations"); got != len(files) {
			t.Errorf("file %d: schema_migrations rows = %d, want %d", iter, got, len(files))
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
	}
}

// TestPragmas reads the pragmas back from several pooled connections held at
// once, since foreign_keys and busy_timeout are per connection and a pool
// opens new ones at any time.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	var conns []*sql.Conn
	for range 3 {
		c, err := d.sql.Conn(ctx)
		if err != nil {
			t.Fatalf("Conn() = %v", err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			for i, c := range conns {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s = %v", tt.pragma, err)
				}
				if got != tt.want {
					t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, tt.pragma, got, tt.want)
				}
			}
		})
	}
}

// TestJournalModePersists checks WAL from a connection we open ourselves
// without any DSN parameters: journal_mode=WAL is a property of the file.
func TestJournalModePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	mustOpenDBAt(t, path)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var mode string
	if err := raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode = %v", err)
	}
	if mode != "wal" {
		t.Errorf("PRAGMA journal_mode on a plain connection = %q, want %q", mode, "wal")
	}
}

// TestForeignKeysEnforced tests the foreign_keys pragma through behaviour: a
// folder of a missing move is refused, and deleting a folder cascades.
func TestForeignKeysEnforced(t *testing.T) {
	ctx := context.Background()
	d := mustOpenDB(t)
	if _, err := d.AddFolder(ctx, Folder{MoveID: 999, Source: "INBOX", Target: "INBOX"}); err == nil {
		t.Errorf("AddFolder(move 999) = nil, want a foreign key error")
	}

	_, ms := mustCreateJob(t, d, "alice")
	f, err := d.AddFolder(ctx, Folder{MoveID: ms[0].ID, Source: "INBOX", Target: "INBOX"})
	if err != nil {
		t.Fatalf("AddFolder() = %v", err)
	}
	if err := d.MarkSending(ctx, f.ID, []Copy{{SourceUID: 1, Size: 10}}); err != nil {
		t.Fatalf("MarkSending() = %v", err)
	}
	if err := d.DeleteFolder(ctx, f.ID); err != nil {
		t.Fatalf("DeleteFolder() = %v", err)
	}
	if got := countRows(t, d, "copies"); got != 0 {
		t.Errorf("copies after DeleteFolder = %d rows, want 0 (ON DELETE CASCADE)", got)
	}
}

// TestImmediateTransactions checks that a transaction takes the write lock
// at BEGIN (_txlock=immediate): while one is open, even before it ran a
// statement, a writer that does not wait is refused, and is let in once the
// transaction commits. Under BEGIN DEFERRED the first write would get in.
func TestImmediateTransactions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	d := mustOpenDBAt(t, path)
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	insert := `INSERT INTO events (job_id, move_id, at, kind, message) VALUES (1, 0, '', 'info', 'x')`

	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BeginTx() = %v", err)
	}
	defer tx.Rollback()
	if _, err := raw.ExecContext(ctx, insert); err == nil {
		t.Errorf("insert while a transaction is open = nil, want SQLITE_BUSY")
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if _, err := raw.ExecContext(ctx, insert); err != nil {
		t.Errorf("insert after commit = %v, want nil", err)
	}
}

// TestOpenPathWithURICharacters: Open builds a "file:" URI by concatenating
// the path, so characters that mean something in a URI ('#', '?', '%') must
// not change which file is opened.
//
// BUG (db.go, Open, the `dsn :=` line): they do. "x#1.db" opens "x" (the
// rest is a URI fragment), "x?y.db" opens "x" (the rest is the query) and
// "x%41.db" fails or opens "xA.db". Fix: escape the path,
// dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode().
func TestOpenPathWithURICharacters(t *testing.T) {
	// The parent's temporary directory: a subtest's would carry the
	// subtest's name, and with it the very characters under test.
	dir := t.TempDir()
	tests := []struct{ name, file string }{
		{"hash", "jobs#1.db"},
		{"percent", "jobs%41.db"},
		{"question", "jobs?x.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name, tt.file)
			if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			d, err := Open(context.Background(), path)
			if err != nil {
				t.Fatalf("Open(%q) = %v", path, err)
			}
			t.Cleanup(func() { d.Close() })
			if _, err := os.Stat(path); err != nil {
				entries, _ := os.ReadDir(filepath.Dir(path))
				var got []string
				for _, e := range entries {
					got = append(got, e.Name())
				}
				t.Errorf("Open(%q) did not create it: %v; the directory holds %q", path, err, got)
			}
		})
	}
}

func TestFormatParseTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"zero", time.Time{}, ""},
		{"utc", time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), "2024-01-02T03:04:05.000000006Z"},
		{"zone", time.Date(2024, 1, 2, 5, 4, 5, 0, time.FixedZone("X", 2*60*60)), "2024-01-02T03:04:05Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatTime(tt.in)
			if got != tt.want {
				t.Errorf("formatTime(%v) = %q, want %q", tt.in, got, tt.want)
			}
			back := parseTime(got)
			if !back.Equal(tt.in) || back.Location() != time.UTC {
				t.Errorf("parseTime(%q) = %v, want %v in UTC", got, back, tt.in)
			}
		})
	}
}

// errorsAs is a small generic helper so tests read like errors.As calls.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// mustAddAudit records an audit entry the way the actions do, in a
// transaction of its own.
func mustAddAudit(t *testing.T, d *DB, actor, action string, jobID, moveID int64, detail string) {
	t.Helper()
	ctx := context.Background()
	if err := execTx(ctx, d, func(tx *sql.Tx) error {
		return addAudit(ctx, tx, d.Now(), actor, action, jobID, moveID, detail)
	}); err != nil {
		t.Fatalf("addAudit(%s %s) = %v", actor, action, err)
	}
}

// mustSetJobState sets a job's state directly, as the runner's end of a
// job does.
func mustSetJobState(t *testing.T, d *DB, id int64, state model.JobState) {
	t.Helper()
	finished := ""
	if !state.Open() {
		finished = formatTime(d.Now())
	}
	if _, err := d.sql.ExecContext(context.Background(), `UPDATE jobs SET state = ?, finished_at = ? WHERE id = ?`,
		state, finished, id); err != nil {
		t.Fatalf("set job %d state %s: %v", id, state, err)
	}
}
