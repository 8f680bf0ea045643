package db

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lockHelperEnv makes TestLockHelperProcess, run in a child process, take
// the lock on the path it names and hold it until killed.
const lockHelperEnv = "MOVEWIZARD_DB_LOCK_HELPER"

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	release, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock() = %v", err)
	}

	_, err = Lock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock() = %v, want ErrLocked", err)
	}
	if pid := strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), "pid "+pid) {
		t.Errorf("second Lock() = %q, want it to name pid %s", err, pid)
	}

	release()
	release2, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock() after release = %v", err)
	}
	release2()
}

func TestLockUnopenable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "jobs.db")
	release, err := Lock(path)
	if err == nil {
		release()
		t.Fatalf("Lock(%q) = nil, want an error", path)
	}
	if errors.Is(err, ErrLocked) {
		t.Errorf("Lock(%q) = %v, want an error other than ErrLocked", path, err)
	}
}

// TestLockReleasedWhenHolderKilled: a process killed with SIGKILL cannot
// clean up, so the lock must be one the kernel drops (flock), never a stale
// file that blocks the next start.
func TestLockReleasedWhenHolderKilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobs.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// Wait for the child to say it holds the lock.
	sc := bufio.NewScanner(out)
	locked := false
	for sc.Scan() {
		if sc.Text() == "locked" {
			locked = true
			break
		}
	}
	if !locked {
		t.Fatalf("helper exited without taking the lock: %v", sc.Err())
	}

	_, err = Lock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock() while the child holds it = %v, want ErrLocked", err)
	}
	if pid := strconv.Itoa(cmd.Process.Pid); !strings.Contains(err.Error(), "pid "+pid) {
		t.Errorf("Lock() = %q, want it to name the child's pid %s", err, pid)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("kill helper: %v", err)
	}
	waited = true
	if err := cmd.Wait(); err == nil {
		t.Fatalf("helper exited cleanly, want killed")
	}

	release, err := Lock(path)
	if err != nil {
		t.Fatalf("Lock() after the holder was killed = %v", err)
	}
	release()
}

// TestLockHelperProcess is not a test: it is the child process of
// TestLockReleasedWhenHolderKilled.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper process for TestLockReleasedWhenHolderKilled")
	}
	release, err := Lock(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: Lock() = %v\n", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	// Hold the lock until the parent kills us; exit on our own after a
	// while so that a parent that died first leaves no orphan behind.
	time.Sleep(2 * time.Minute)
	release() // also keeps the lock's file reachable, so no finalizer closes it
	os.Exit(3)
}
