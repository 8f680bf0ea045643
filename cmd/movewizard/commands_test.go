package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
)

// TestSecondProcessRefused is not parallel on purpose: a child forked by
// another test between our db.Lock and its release would hold a copy of the
// lock's file descriptor until its exec, and keep the lock a moment longer.
func TestSecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "mw.toml", offlineConfig)
	// The lock a running move holds: the servers are never reached, because
	// the refusal comes before any connection.
	release, err := db.Lock(filepath.Join(dir, "mw.db"))
	if err != nil {
		t.Fatalf("db.Lock() = %v", err)
	}
	env := []string{"PATH=/usr/bin:/bin"}
	for _, args := range [][]string{
		{"move", "-config", cfg, "-target", "dst", "-users", "user001"},
		{"resume", "-config", cfg},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runBinary(t, env, args...)
			if code := exitStatus(r.err); code != 1 {
				t.Errorf("movewizard %s while the database is locked: exit %d, want 1\n%s", args[0], code, r)
			}
			if !strings.Contains(r.stderr, "another movewizard process is running moves") {
				t.Errorf("movewizard %s while the database is locked: stderr = %q, want it to say another process is running moves", args[0], r.stderr)
			}
		})
	}
	release()
	// Once the holder is gone the same command works: the refusal was the lock.
	r := runBinary(t, env, "resume", "-config", cfg)
	if r.err != nil || !strings.Contains(r.stdout, "nothing to resume") {
		t.Errorf("movewizard resume after the lock was released: want exit 0 and %q, got %s", "nothing to resume", r)
	}
}

func TestAlreadyOnTarget(t *testing.T) {
	t.Parallel()
	s := startServers(t, 1)
	// A stale copy on the source and the real mailbox on the target: neither
	// may change.
	seed(t, s.src, onDstUser)
	seed(t, s.dst, onDstUser)
	wantSrc, wantDst := manifest(t, s.src, onDstUser), manifest(t, s.dst, onDstUser)
	checkSeeded(t, onDstUser, wantSrc)
	cfg := s.config(t, "already.db")

	r := runBinary(t, s.childEnv(), "move", "-config", cfg, "-target", "dst", "-users", onDstUser, "-policy", "skip", "-max-bad", "5")
	if r.err != nil {
		t.Fatalf("movewizard move of a user already on the target: want exit 0, got %s", r)
	}
	if !summaryLine(onDstUser, model.MoveAlreadyThere).MatchString(r.stdout) || !strings.Contains(r.stdout, "already on dst") {
		t.Errorf("movewizard move stdout = %q, want %s already-there and \"already on dst\"", r.stdout, onDstUser)
	}
	if got := s.ldap.ModifyCount(t, s.ldap.UserDN(onDstUser)); got != 0 {
		t.Errorf("ModifyCount(%s) = %d, want 0", onDstUser, got)
	}
	if got := s.home(t, onDstUser); !slices.Equal(got, []string{dstHome}) {
		t.Errorf("mailHost of %s = %q, want [%s]", onDstUser, got, dstHome)
	}
	if d := diffManifests(manifest(t, s.src, onDstUser), wantSrc); d != "" {
		t.Errorf("source content changed:\n%s", d)
	}
	if d := diffManifests(manifest(t, s.dst, onDstUser), wantDst); d != "" {
		t.Errorf("target content changed:\n%s", d)
	}
	if m := moveOf(t, filepath.Join(s.dir, "already.db"), onDstUser); m.State != model.MoveAlreadyThere {
		t.Errorf("move state = %s, want %s", m.State, model.MoveAlreadyThere)
	}
}

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	s := startServers(t, 1)
	cfg := s.config(t, "check.db")
	src := fmt.Sprintf("server src (%s): ", s.src.Addr)
	dst := fmt.Sprintf("server dst (%s): ", s.dst.Addr)
	dirLine := fmt.Sprintf("directory %s: ", s.ldap.URL)
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     []string // in stdout, or stderr for code 2
		notWant  []string
	}{
		{name: "good", env: s.childEnv(), wantCode: 0,
			want: []string{dirLine + "ok", src + "ok", dst + "ok"}},
		{name: "good as a chosen user", env: s.childEnv(), args: []string{"-user", "user001"}, wantCode: 0,
			want: []string{dirLine + "ok", src + `ok (logged in as "user001"`, dst + `ok (logged in as "user001"`}},
		{name: "wrong dst admin password", env: s.childEnv(dstPasswordEnv + "=wrong"), wantCode: 1,
			want: []string{dirLine + "ok", src + "ok", dst + "FAIL"}, notWant: []string{dst + "ok", "wrong"}},
		{name: "dst admin password unset", env: withoutVar(s.childEnv(), dstPasswordEnv), wantCode: 2,
			want: []string{"servers[1].admin_password_env", dstPasswordEnv}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, tc.env, append([]string{"check", "-config", cfg}, tc.args...)...)
			if code := exitStatus(r.err); code != tc.wantCode {
				t.Errorf("movewizard check: exit %d, want %d\n%s", code, tc.wantCode, r)
			}
			out := r.stdout
			if tc.wantCode == 2 {
				out = r.stderr
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("movewizard check output = %q, want it to contain %q", out, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("movewizard check output = %q, want no %q", r.stdout+r.stderr, w)
				}
			}
		})
	}
}

func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func TestDiffManifests(t *testing.T) {
	want := map[string][]string{"INBOX": {"a", "a", "b"}, "Archive/2023": {"c"}, "Trash": {}}
	tests := []struct {
		name string
		got  map[string][]string
		want []string // substrings of the diff; none means equal
	}{
		{"equal", map[string][]string{"INBOX": {"a", "a", "b"}, "Archive/2023": {"c"}, "Trash": {}}, nil},
		{"duplicate", map[string][]string{"INBOX": {"a", "a", "a", "b"}, "Archive/2023": {"c"}, "Trash": {}},
			[]string{`folder "INBOX": 4 messages, want 3: 0 missing, 1 extra`}},
		{"missing duplicate", map[string][]string{"INBOX": {"a", "b"}, "Archive/2023": {"c"}, "Trash": {}},
			[]string{`folder "INBOX": 2 messages, want 3: 1 missing, 0 extra`}},
		{"different flags", map[string][]string{"INBOX": {"a", "a", "b2"}, "Archive/2023": {"c"}, "Trash": {}},
			[]string{"1 missing, 1 extra"}},
		{"missing folder", map[string][]string{"INBOX": {"a", "a", "b"}, "Trash": {}},
			[]string{`folder "Archive/2023" missing`}},
		{"missing empty folder", map[string][]string{"INBOX": {"a", "a", "b"}, "Archive/2023": {"c"}},
			[]string{`folder "Trash" missing`}},
		{"extra folder", map[string][]string{"INBOX": {"a", "a", "b"}, "Archive/2023": {"c"}, "Trash": {}, "Archive.2023": {}},
			[]string{`folder "Archive.2023" unexpected`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := diffManifests(tc.got, want)
			if (got == "") != (len(tc.want) == 0) {
				t.Fatalf("diffManifests() = %q, want equal: %v", got, len(tc.want) == 0)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("diffManifests() = %q, want it to contain %q", got, w)
				}
			}
		})
	}
}
