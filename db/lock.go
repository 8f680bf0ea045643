package db

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrLocked is returned by Lock when another process runs moves on the
// same database.
var ErrLocked = errors.New("another movewizard process is running moves on this database")

// Lock takes an exclusive advisory lock beside the database, held until
// the returned release is called or the process dies (the kernel drops
// flock locks of dead processes, so a kill -9 never leaves a stale lock).
func Lock(dbPath string) (release func(), err error) {
	path := dbPath + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s (pid %s): %w", dbPath, strings.TrimSpace(string(holder)), ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is only for the message above; the lock itself is the flock.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() { f.Close() }, nil
}
