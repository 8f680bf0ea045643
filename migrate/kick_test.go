package migrate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// kickScript writes an executable shell script to a fresh directory that
// the kick runs as kick_command; it records its arguments, one a line, in
// the file args beside it, then runs body. It returns the script's and the
// record's paths.
func kickScript(t *testing.T, body string) (script, record string) {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir is 0700; the script must be reachable whoever runs it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	record = filepath.Join(dir, "args")
	script = filepath.Join(dir, "kick.sh")
	src := fmt.Sprintf("#!/bin/sh\nfor a in \"$@\"; do printf '%%s\\n' \"$a\" >> %q; done\n%s\n", record, body)
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, record
}

func commandServer(argv ...string) config.Server {
	return config.Server{Name: "src", Kick: config.Kick{Command: argv}}
}

func TestKickCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    kickOutcome
		wantErr []string // substrings of the error; none: no error
	}{
		{"ended", "exit 0", kickEnded, nil},
		{"no sessions (exit 68, as doveadm kick)", "echo 'no users kicked' >&2; exit 68", kickNoSessions, nil},
		{"failure with stderr", "echo 'anvil: connection refused' >&2; echo ignored; exit 3", kickFailed,
			[]string{`end the sessions of "user001" on src: kick_command [`, "exited with status 3: anvil: connection refused"}},
		{"failure with stdout only", "echo 'said on stdout'; exit 1", kickFailed,
			[]string{"exited with status 1: said on stdout"}},
		{"killed by a signal", "kill -TERM $$", kickFailed, []string{"ended by signal: terminated"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			script, record := kickScript(t, tc.body)
			s := commandServer(script, "kick", "--user={user}", "{user}")
			got, err := kickSessions(context.Background(), s, "user001", kickTimeout)
			if got != tc.want {
				t.Errorf("kickSessions() outcome = %d, want %d (err %v)", got, tc.want, err)
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Errorf("kickSessions() error = %v, want nil", err)
			}
			if len(tc.wantErr) > 0 && err == nil {
				t.Fatalf("kickSessions() error = nil, want one with %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("kickSessions() error = %q, want it to contain %q", err, w)
				}
			}
			args, rerr := os.ReadFile(record)
			if rerr != nil {
				t.Fatalf("the script did not record its arguments: %v", rerr)
			}
			if got, want := string(args), "kick\n--user=user001\nuser001\n"; got != want {
				t.Errorf("kick_command arguments = %q, want %q", got, want)
			}
			kicked, err2 := KickSessions(context.Background(), s, "user001")
			if wantKicked := len(tc.wantErr) == 0; kicked != wantKicked || (err2 == nil) != wantKicked {
				t.Errorf("KickSessions() = %t, %v; want kicked %t", kicked, err2, wantKicked)
			}
		})
	}
}

func TestKickNotConfigured(t *testing.T) {
	kicked, err := KickSessions(context.Background(), config.Server{Name: "src"}, "user001")
	if kicked || err != nil {
		t.Errorf("KickSessions() without a kick action = %t, %v; want false, nil", kicked, err)
	}
}

// A uid that a command or Dovecot's user mask would read as something
// else is refused before anything runs.
func TestKickRefusesUID(t *testing.T) {
	t.Parallel()
	script, record := kickScript(t, "exit 0")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the API was called for a refused uid: %s %s", r.Method, r.URL)
	}))
	defer api.Close()
	servers := []config.Server{
		commandServer(script, "{user}"),
		{Name: "src", Kick: config.Kick{URL: api.URL + "/doveadm/v1", APIKey: "k"}},
	}
	for _, tc := range []struct{ uid, want string }{
		{"", "the uid is empty"},
		{"-A", `uid "-A" starts with '-'`},
		{"user\n001", "contains a control character"},
		{"user\x00", "contains a control character"},
		{"user\t1", "contains a control character"},
		{"user*", "wildcard"},
		{"us?r", "wildcard"},
	} {
		for _, s := range servers {
			kicked, err := KickSessions(context.Background(), s, tc.uid)
			if kicked || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("KickSessions(%s, %q) = %t, %v; want false and an error with %q", s.Kick, tc.uid, kicked, err, tc.want)
			}
		}
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("the script ran for a refused uid (Stat(record) = %v)", err)
	}
}

func TestKickCommandTimeout(t *testing.T) {
	t.Parallel()
	// The script's own child holds the output pipes: the whole process
	// group must be ended, or the kick would wait for it.
	script, _ := kickScript(t, "echo started >&2; sleep 600 & wait")
	_, err := kickSessions(context.Background(), commandServer(script, "{user}"), "user001", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms: started") {
		t.Errorf("kickSessions() of a hanging command = %v, want an error saying it did not finish within 200ms, with its output", err)
	}
}

func TestKickCommandErrors(t *testing.T) {
	t.Parallel()
	chatty, _ := kickScript(t, "i=0; while [ $i -lt 2000 ]; do echo 'a line of a very chatty command'; i=$((i+1)); done >&2; exit 1")
	_, err := KickSessions(context.Background(), commandServer(chatty, "{user}"), "user001")
	if err == nil || !strings.HasSuffix(err.Error(), "…") || len(err.Error()) > kickOutputLimit+300 {
		t.Errorf("KickSessions() of a chatty failing command: error of %d bytes, want one cut near %d bytes and ending in …", len(fmt.Sprint(err)), kickOutputLimit)
	}
	missing := filepath.Join(t.TempDir(), "no-such-kick")
	_, err = KickSessions(context.Background(), commandServer(missing, "{user}"), "user001")
	if err == nil || !strings.Contains(err.Error(), "no-such-kick") {
		t.Errorf("KickSessions() of a missing program = %v, want an error naming it", err)
	}
	script, record := kickScript(t, "exit 0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = KickSessions(ctx, commandServer(script, "{user}"), "user001")
	if err == nil {
		t.Errorf("KickSessions() with a stopped context = nil, want an error")
	}
	if _, serr := os.Stat(record); !os.IsNotExist(serr) {
		t.Errorf("the command ran with a stopped context (Stat(record) = %v)", serr)
	}
}

// apiRequest is what the fake doveadm HTTP API saw.
type apiRequest struct {
	method, path, auth, contentType string
	body                            []byte
}

func TestKickHTTP(t *testing.T) {
	t.Parallel()
	const key = "api-s3cret"
	tests := []struct {
		name    string
		status  int
		answer  string
		want    kickOutcome
		wantErr []string
	}{
		{"ended", 200, `[["doveadmResponse",[{"result":"user001"}],"mw1"]]`, kickEnded, nil},
		{"no sessions", 200, `[["error",{"type":"exitCode", "exitCode":68},"mw1"]]`, kickNoSessions, nil},
		{"doveadm error", 200, `[["error",{"type":"exitCode", "exitCode":75},"mw1"]]`, kickFailed,
			[]string{`doveadm kick "user001" failed (exitCode, exit code 75)`}},
		{"refused key", 401, "", kickFailed, []string{"answered 401 Unauthorized"}},
		{"server error with a body", 500, "internal trouble\n", kickFailed, []string{"answered 500 Internal Server Error: internal trouble"}},
		{"not JSON", 200, "<html>proxy</html>", kickFailed, []string{"not a doveadm reply"}},
		{"another tag", 200, `[["doveadmResponse",[],"other"]]`, kickFailed, []string{`no reply tagged "mw1"`}},
		{"unknown reply", 200, `[["surprise",{},"mw1"]]`, kickFailed, []string{`unexpected reply "surprise"`}},
		{"redirect", 302, "", kickFailed, []string{"answered 302 Found"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan apiRequest, 1)
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				seen <- apiRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body}
				if tc.status == 302 {
					w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.answer)
			}))
			defer api.Close()
			s := config.Server{Name: "src", Kick: config.Kick{URL: api.URL + "/doveadm/v1?token=t-s3cret", APIKey: key}}
			got, err := kickSessions(context.Background(), s, "user001", kickTimeout)
			if got != tc.want {
				t.Errorf("kickSessions() outcome = %d, want %d (err %v)", got, tc.want, err)
			}
			if (err != nil) != (len(tc.wantErr) > 0) {
				t.Fatalf("kickSessions() error = %v, want one: %t", err, len(tc.wantErr) > 0)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("kickSessions() error = %q, want it to contain %q", err, w)
				}
			}
			if err != nil && (strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "t-s3cret")) {
				t.Errorf("kickSessions() error = %q, want no secret in it", err)
			}
			r := <-seen
			if r.method != http.MethodPost || r.path != "/doveadm/v1" || r.contentType != "application/json" {
				t.Errorf("request = %s %s (Content-Type %q), want POST /doveadm/v1 with application/json", r.method, r.path, r.contentType)
			}
			if want := "X-Dovecot-API " + base64.StdEncoding.EncodeToString([]byte(key)); r.auth != want {
				t.Errorf("Authorization = %q, want %q", r.auth, want)
			}
			var cmds [][]json.RawMessage
			if err := json.Unmarshal(r.body, &cmds); err != nil || len(cmds) != 1 || len(cmds[0]) != 3 {
				t.Fatalf("request body = %s, want one doveadm command [name, parameters, tag]", r.body)
			}
			if got := fmt.Sprintf("%s %s %s", cmds[0][0], cmds[0][1], cmds[0][2]); got != `"kick" {"mask":["user001"]} "mw1"` {
				t.Errorf("request command = %s, want kick with mask [user001] tagged mw1", got)
			}
		})
	}
}

func TestKickHTTPTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer api.Close()
	defer close(release)
	s := config.Server{Name: "src", Kick: config.Kick{URL: api.URL + "/doveadm/v1", APIKey: "k"}}
	_, err := kickSessions(context.Background(), s, "user001", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Errorf("kickSessions() of a hanging API = %v, want an error saying it did not answer within 200ms", err)
	}
	api.CloseClientConnections()
	_, err = KickSessions(context.Background(), config.Server{Name: "src", Kick: config.Kick{URL: "http://127.0.0.1:1/doveadm/v1", APIKey: "k"}}, "user001")
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("KickSessions() of an API nobody serves = %v, want connection refused", err)
	}
}

// Against real Dovecot: a session of the user ends (the server closes the
// connection), another user's stays, and a second kick finds none open.
// Both ways: doveadm kick as kick_command, and the doveadm HTTP API.
func TestKickDovecot(t *testing.T) {
	t.Parallel()
	const key = "doveadm-test-key"
	d := testserver.StartDovecot(t, testserver.DovecotOptions{Users: testserver.DovecotUsers(2), DoveadmAPIKey: key})
	doveadm := testserver.RequireBinary(t, "doveadm")
	ways := []struct {
		name string
		kick config.Kick
	}{
		{"command", config.Kick{Command: []string{doveadm, "-c", d.ConfigPath, "kick", "{user}"}}},
		{"http api", config.Kick{URL: d.DoveadmURL, APIKey: key}},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			s := config.Server{Name: "src", Kick: way.kick}
			kicked := kickLogin(t, d, "user001")
			other := kickLogin(t, d, "user002")
			got, err := kickSessions(context.Background(), s, "user001", kickTimeout)
			if err != nil || got != kickEnded {
				t.Fatalf("kickSessions(user001) = %d, %v; want ended\n%s", got, err, d.Log())
			}
			select {
			case <-kicked.Closed():
			case <-time.After(time.Minute): // only a guard against a hang
				t.Fatalf("user001's connection is still open a minute after the kick\n%s", d.Log())
			}
			if err := kicked.Noop().Wait(); err == nil {
				t.Errorf("NOOP on the kicked connection = nil, want an error")
			}
			if err := other.Noop().Wait(); err != nil {
				t.Errorf("NOOP of user002 after user001 was kicked = %v, want nil", err)
			}
			got, err = kickSessions(context.Background(), s, "user001", kickTimeout)
			if err != nil || got != kickNoSessions {
				t.Errorf("kickSessions(user001) without sessions = %d, %v; want no sessions", got, err)
			}
		})
	}
	t.Run("http api with a wrong key", func(t *testing.T) {
		c := kickLogin(t, d, "user002")
		s := config.Server{Name: "src", Kick: config.Kick{URL: d.DoveadmURL, APIKey: "wrong-key"}}
		kicked, err := KickSessions(context.Background(), s, "user002")
		if kicked || err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("KickSessions() with a wrong API key = %t, %v; want an error with 401", kicked, err)
		}
		if err := c.Noop().Wait(); err != nil {
			t.Errorf("NOOP after a refused kick = %v, want nil", err)
		}
	})
}

func kickLogin(t *testing.T, d *testserver.Dovecot, uid string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatalf("DialInsecure(%s) = %v", d.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(uid, d.Users[uid]).Wait(); err != nil {
		t.Fatalf("Login(%s) = %v", uid, err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX as %s = %v", uid, err)
	}
	return c
}
