package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"modernc.org/sqlite"
)

// IsStoreError reports whether err is a failure of the job store itself
// rather than an answer about its data: SQLite refused or failed the
// statement (a full disk, a locked, read-only or corrupt database; any
// *sqlite.Error), or database/sql found the database, a connection or a
// transaction already closed. ErrNotFound, ErrConflict and sql.ErrNoRows
// are answers, not store errors.
//
// The test is by type and identity, never by message, and sees through
// fmt.Errorf("...: %w") wrapping.
func IsStoreError(err error) bool {
	if err == nil {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return true
	}
	return errors.Is(err, errDBClosed) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone)
}

// errDBClosed is database/sql's unexported "sql: database is closed",
// returned by every call on a closed *sql.DB. It is taken from a closed
// pool once, so that it can be matched by identity.
var errDBClosed = func() error {
	d := sql.OpenDB(noConnector{})
	d.Close()
	return d.PingContext(context.Background())
}()

// noConnector is a driver.Connector that never connects; errDBClosed only
// needs a pool to close.
type noConnector struct{}

func (noConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no connection")
}
func (noConnector) Driver() driver.Driver { return noDriver{} }

type noDriver struct{}

func (noDriver) Open(string) (driver.Conn, error) { return nil, errors.New("no connection") }
