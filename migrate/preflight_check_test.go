package migrate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
)

// checkEnv seeds u1 with 3 messages in INBOX and 2 in "Work" on src; the
// directory also knows "ghost" (an unregistered home), "there" (already
// on dst), "nobox" (no mailbox on dst) and "homeless" (no home value).
func checkEnv(t *testing.T) (*memEnv, *directory.Mem, int64) {
	t.Helper()
	e := newMemEnv(t, '.', '/', "u1", "there")
	if err := e.src.CreateMailbox("u1", "Work", ""); err != nil {
		t.Fatal(err)
	}
	var size int64
	for i, box := range []string{"INBOX", "INBOX", "INBOX", "Work", "Work"} {
		body := fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\nMessage-ID: <m%d@example.org>\r\n\r\nbody %d\r\n", i, i, i)
		if _, err := e.src.AddMessage("u1", box, []imap.Flag{imap.FlagSeen}, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), []byte(body)); err != nil {
			t.Fatal(err)
		}
		size += int64(len(body))
	}
	dir := directory.NewMem(
		directory.User{DN: "uid=u1,dc=example,dc=org", UID: "u1", Name: "User One", Home: "SRC.example.org"},
		directory.User{DN: "uid=ghost,dc=example,dc=org", UID: "ghost", Home: "gone.example.org"},
		directory.User{DN: "uid=there,dc=example,dc=org", UID: "there", Home: "dst.example.org"},
		directory.User{DN: "uid=nobox,dc=example,dc=org", UID: "nobox", Home: "src.example.org"},
		directory.User{DN: "uid=homeless,dc=example,dc=org", UID: "homeless"},
	)
	return e, dir, size
}

func TestCheckMove(t *testing.T) {
	ctx := context.Background()
	t.Run("ok", func(t *testing.T) {
		e, dir, size := checkEnv(t)
		got := migrate.CheckMove(ctx, e.cfg, dir, "u1", "dst")
		if !got.OK() || len(got.Warnings) != 0 {
			t.Fatalf("CheckMove() errors %q warnings %q, want none", got.Errors, got.Warnings)
		}
		if got.Source != "src" || got.Name != "User One" || !got.Measured {
			t.Errorf("CheckMove() = source %q name %q measured %v, want src, User One, true", got.Source, got.Name, got.Measured)
		}
		if got.Messages != 5 || got.Bytes != size || got.Folders != 2 {
			t.Errorf("CheckMove() = %d messages, %d bytes in %d folders, want 5, %d, 2", got.Messages, got.Bytes, got.Folders, size)
		}
		if got.QuotaLimit != 0 {
			t.Errorf("CheckMove() quota = %d, want 0 (none set)", got.QuotaLimit)
		}
	})
	t.Run("quota reported", func(t *testing.T) {
		e, dir, _ := checkEnv(t)
		if err := e.dst.SetQuota("u1", 1<<20); err != nil {
			t.Fatal(err)
		}
		got := migrate.CheckMove(ctx, e.cfg, dir, "u1", "dst")
		if !got.OK() || got.QuotaLimit != 1<<20 {
			t.Errorf("CheckMove() = errors %q quota %d, want none and %d", got.Errors, got.QuotaLimit, 1<<20)
		}
	})

	for _, tc := range []struct {
		name, uid, target string
		setup             func(e *memEnv)
		says              string // in the errors; "" means no error
		warns             string
	}{
		{name: "unknown user", uid: "nobody", target: "dst", says: `No user "nobody" in the directory`},
		{name: "unregistered home", uid: "ghost", target: "dst", says: `mailHost "gone.example.org" is not a registered server`},
		{name: "no home", uid: "homeless", target: "dst", says: "The user has no mailHost value, so no registered server holds the mailbox."},
		{name: "unregistered target", uid: "u1", target: "elsewhere", says: `The target server "elsewhere" is not registered.`},
		{name: "unregistered target and home", uid: "ghost", target: "elsewhere", says: `The target server "elsewhere" is not registered. | The user's mailHost "gone.example.org" is not a registered server.`},
		{name: "unregistered target and user", uid: "nobody", target: "elsewhere", says: `The target server "elsewhere" is not registered. | No user "nobody" in the directory.`},
		{name: "already on target", uid: "there", target: "dst", warns: "already is on dst"},
		{name: "mixed mode, other group", uid: "u1", target: "dst", says: "mixed mode", setup: func(e *memEnv) {
			e.cfg.Mode = config.ModeMixed
			e.cfg.Servers[0].Group, e.cfg.Servers[1].Group = "east", "west"
		}},
		{name: "source login refused", uid: "u1", target: "dst", says: "Source src: the admin login for the user was refused", setup: func(e *memEnv) {
			e.src.Faults().FailLogin("u1", 1, imap.ResponseCodeAuthenticationFailed, "no way")
		}},
		{name: "no mailbox on target", uid: "nobox", target: "dst", says: "Target dst: the admin login for the user was refused", setup: func(e *memEnv) {
			e.src.AddUser("nobox", "pw")
		}},
		{name: "target quota too small", uid: "u1", target: "dst", says: "quota too small", setup: func(e *memEnv) {
			// 1 KiB, already used by a message on the target.
			if err := e.dst.SetQuota("u1", 1024); err != nil {
				t.Fatal(err)
			}
			if _, err := e.dst.AddMessage("u1", "INBOX", nil, time.Now(), []byte("Subject: x\r\n\r\n"+strings.Repeat("x", 900))); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, dir, _ := checkEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			got := migrate.CheckMove(ctx, e.cfg, dir, tc.uid, tc.target)
			errs := strings.Join(got.Errors, " | ")
			if tc.says == "" && errs != "" || !strings.Contains(errs, tc.says) {
				t.Errorf("CheckMove(%q, %q) errors = %q, want %q", tc.uid, tc.target, errs, tc.says)
			}
			if warns := strings.Join(got.Warnings, " | "); !strings.Contains(warns, tc.warns) || tc.warns == "" && warns != "" {
				t.Errorf("CheckMove(%q, %q) warnings = %q, want %q", tc.uid, tc.target, warns, tc.warns)
			}
		})
	}
}
