// Command movewizard moves users' mailboxes between the IMAP servers of one
// organisation and re-homes them in the LDAP directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitError carries a process exit code: 1 when a mailbox did not move,
// 2 for bad usage or configuration.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "movewizard:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "movewizard:", err)
	return 1
}

const usage = `movewizard moves mailboxes between IMAP servers and re-homes users in LDAP.

Usage:
  movewizard demo   [-database FILE]
  movewizard move   -config FILE -target NAME (-users a,b | -users-file FILE) [flags]
  movewizard move   -config FILE -target NAME -stage [-complete-at TIME] (-users … | -users-file …)
  movewizard complete -config FILE (-job N | -move N)
  movewizard resume -config FILE
  movewizard check  -config FILE [-user UID]
  movewizard serve  -config FILE
  movewizard jobs   -config FILE [-job N]
  movewizard cancel -config FILE (-job N | -move N)
  movewizard retry  -config FILE -move N

Run "movewizard COMMAND -h" for the flags of a command.
`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: 2, err: errors.New("")}
	}
	if spec := os.Getenv(crashEnv); spec != "" && args[0] != "move" {
		fmt.Fprintf(stderr, "movewizard: warning: %s=%s is ignored: it is a crash-test hook that only the move command reads\n", crashEnv, spec)
	}
	switch args[0] {
	case "move":
		return cmdMove(ctx, args[1:], stdout, stderr)
	case "resume":
		return cmdResume(ctx, args[1:], stdout, stderr)
	case "complete":
		return cmdComplete(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "cancel":
		return cmdCancel(ctx, args[1:], stdout, stderr)
	case "retry":
		return cmdRetry(ctx, args[1:], stdout, stderr)
	case "jobs":
		return cmdJobs(ctx, args[1:], stdout, stderr)
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageErr("unknown command %q", args[0])
	}
}
