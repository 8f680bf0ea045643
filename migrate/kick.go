package migrate

// Ending the user's sessions on the source at the cut-over. Once the
// directory names the target, new logins land there; clients that stay
// connected to the source keep reading and writing the old mailbox until
// they reconnect. The server's kick action (config.Kick: a command such as
// `doveadm kick {user}`, or Dovecot's doveadm HTTP API) makes them
// reconnect now. It is an optimisation, not a guarantee: what an old
// session still does on the source before the propagation delay ends is
// carried by the final delta, so a kick that fails never fails the move.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/movewizard/movewizard/migrate/config"
)

const (
	// kickTimeout bounds one kick: a hung command or API must not hold the
	// cut-over, which waits for the propagation delay anyway.
	kickTimeout = 30 * time.Second
	// kickOutputLimit is how much of a command's stdout and stderr (each)
	// and of an HTTP answer is kept for the error message.
	kickOutputLimit = 4 << 10
	// kickTag tags our command in a doveadm HTTP API request; the answer
	// carries it back.
	kickTag = "mw1"
	// exitNoUser is sysexits' EX_NOUSER, doveadm kick's exit code (and the
	// API's exitCode) for "no users kicked": the user had no session open.
	exitNoUser = 68
)

// kickOutcome is what a kick did.
type kickOutcome int

const (
	kickNotConfigured kickOutcome = iota // the server has no kick action
	kickEnded                            // the sessions were ended
	kickNoSessions                       // the action ran; the user had no session open
	kickFailed                           // the action failed or was not run (the error says why)
)

// errNoSessions is what the kick helpers return for exitNoUser.
var errNoSessions = errors.New("no sessions open")

// errKickTimeout is the cause of a kick's context when kickTimeout passed.
var errKickTimeout = errors.New("kick timed out")

// KickSessions ends uid's open IMAP and POP sessions on s with the
// server's kick action. kicked is false, with no error, when s has none;
// it is true when the action ran, also when the user had no session open
// (doveadm kick's exit code 68, "no users kicked"). The uid is refused if
// a command or Dovecot's user mask could read it as something else:
// empty, starting with '-', with a control character or with a wildcard
// ('*', '?').
func KickSessions(ctx context.Context, s config.Server, uid string) (kicked bool, err error) {
	outcome, err := kickSessions(ctx, s, uid, kickTimeout)
	return outcome == kickEnded || outcome == kickNoSessions, err
}

func kickSessions(ctx context.Context, s config.Server, uid string, timeout time.Duration) (kickOutcome, error) {
	k := s.Kick
	if !k.Configured() {
		return kickNotConfigured, nil
	}
	if err := checkKickUID(uid); err != nil {
		return kickFailed, fmt.Errorf("end the sessions of %q on %s: %w", uid, s.Name, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errKickTimeout)
	defer cancel()
	var err error
	if len(k.Command) > 0 {
		err = kickCommand(ctx, k.Command, uid, timeout)
	} else {
		err = kickHTTP(ctx, k, uid, timeout)
	}
	if errors.Is(err, errNoSessions) {
		return kickNoSessions, nil
	}
	if err != nil {
		return kickFailed, fmt.Errorf("end the sessions of %q on %s: %w", uid, s.Name, err)
	}
	return kickEnded, nil
}

func checkKickUID(uid string) error {
	switch {
	case uid == "":
		return errors.New("the uid is empty")
	case strings.HasPrefix(uid, "-"):
		return fmt.Errorf("uid %q starts with '-' and would be read as an option", uid)
	case strings.ContainsFunc(uid, unicode.IsControl):
		return fmt.Errorf("uid %q contains a control character", uid)
	case strings.ContainsAny(uid, "*?"):
		return fmt.Errorf("uid %q contains a wildcard ('*' or '?') and would end other users' sessions too", uid)
	}
	return nil
}

// kickCommand runs argv (config.KickUserArg replaced by uid) without a
// shell, in a process group of its own so that a timeout ends whatever it
// started too.
func kickCommand(ctx context.Context, argv []string, uid string, timeout time.Duration) error {
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = strings.ReplaceAll(a, config.KickUserArg, uid)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that inherited the output pipes must not keep us waiting
	// once the command itself was killed.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	output := commandOutput(&stdout, &stderr)
	if errors.Is(context.Cause(ctx), errKickTimeout) {
		return fmt.Errorf("kick_command %q did not finish within %s%s", args, timeout, output)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("kick_command %q stopped: %w", args, context.Cause(ctx))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == exitNoUser {
			return errNoSessions
		}
		if ee.Exited() {
			return fmt.Errorf("kick_command %q exited with status %d%s", args, ee.ExitCode(), output)
		}
		return fmt.Errorf("kick_command %q ended by %s%s", args, ee.ProcessState, output)
	}
	return fmt.Errorf("kick_command %q: %w", args, err)
}

// commandOutput is ": " and what the command said, stderr first, or "".
func commandOutput(stdout, stderr *limitedBuffer) string {
	for _, b := range []*limitedBuffer{stderr, stdout} {
		if s := b.text(); s != "" {
			return ": " + s
		}
	}
	return ""
}

// limitedBuffer keeps the first kickOutputLimit bytes written to it and
// accepts the rest unseen, so that a chatty command neither blocks nor
// fills the memory.
type limitedBuffer struct {
	buf       bytes.Buffer
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := kickOutputLimit - b.buf.Len()
	if len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// text is the output on one line, trimmed, "…" marking a cut.
func (b *limitedBuffer) text() string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(b.buf.String(), "?")), " ")
	if b.truncated && s != "" {
		s += " …"
	}
	return s
}

// kickHTTP runs doveadm's kick through Dovecot's doveadm HTTP API: one
// command in the API's JSON array form, authenticated with the API key
// (doveadm_api_key), answered by either a doveadmResponse or an error with
// doveadm's exit code.
func kickHTTP(ctx context.Context, k config.Kick, uid string, timeout time.Duration) error {
	body, err := json.Marshal([]any{[]any{"kick", map[string]any{"mask": []string{uid}}, kickTag}})
	if err != nil {
		return fmt.Errorf("encode the kick request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "X-Dovecot-API "+base64.StdEncoding.EncodeToString([]byte(k.APIKey)))
	// A redirect is an answer we do not expect; following it would send the
	// key elsewhere.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errKickTimeout) {
			return fmt.Errorf("%s did not answer within %s", k, timeout)
		}
		// url.Error quotes the whole URL, whose query may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: %w", k, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", k, err)
	}
	if resp.StatusCode != http.StatusOK {
		var excerpt limitedBuffer
		excerpt.Write(data)
		text := excerpt.text()
		if text != "" {
			text = ": " + text
		}
		return fmt.Errorf("%s answered %s%s", k, resp.Status, text)
	}
	return kickAnswer(k, uid, data)
}

// kickAnswer reads the API's answer, [["doveadmResponse", ..., tag]] or
// [["error", {"type": ..., "exitCode": N}, tag]].
func kickAnswer(k config.Kick, uid string, data []byte) error {
	var replies [][]json.RawMessage
	if err := json.Unmarshal(data, &replies); err != nil {
		return fmt.Errorf("%s answered something that is not a doveadm reply: %w", k, err)
	}
	for _, r := range replies {
		var kind, tag string
		if len(r) != 3 || json.Unmarshal(r[0], &kind) != nil || json.Unmarshal(r[2], &tag) != nil || tag != kickTag {
			continue
		}
		switch kind {
		case "doveadmResponse":
			return nil
		case "error":
			var e struct {
				Type     string `json:"type"`
				ExitCode int    `json:"exitCode"`
			}
			if err := json.Unmarshal(r[1], &e); err != nil {
				return fmt.Errorf("%s: doveadm kick %q failed: %s", k, uid, r[1])
			}
			if e.Type == "exitCode" && e.ExitCode == exitNoUser {
				return errNoSessions
			}
			return fmt.Errorf("%s: doveadm kick %q failed (%s, exit code %d)", k, uid, e.Type, e.ExitCode)
		default:
			return fmt.Errorf("%s: unexpected reply %q to doveadm kick %q", k, kind, uid)
		}
	}
	return fmt.Errorf("%s: the answer has no reply tagged %q", k, kickTag)
}

// endSourceSessions runs the source's kick action, if it has one, right
// after the directory update (see the top of this file). Its outcome is an event of
// the move; a failure is also logged, and the move goes on.
func (r *run) endSourceSessions(ctx context.Context) {
	if !r.src.Kick.Configured() {
		return
	}
	// The mover's own connections are sessions of the user too: they are
	// closed first rather than cut, and the delta pass dials again.
	r.closeConns()
	outcome, err := kickSessions(ctx, r.src, r.m.UID, kickTimeout)
	switch {
	case err != nil:
		r.log.Warn("kick failed; the final delta carries what old sessions still do", "server", r.src.Name, "err", err)
		r.event(ctx, "kick", "kick failed: "+err.Error())
	case outcome == kickEnded:
		r.log.Info("sessions ended", "server", r.src.Name)
		r.event(ctx, "kick", "sessions ended on "+r.src.Name)
	case outcome == kickNoSessions:
		r.log.Info("no sessions to end", "server", r.src.Name)
		r.event(ctx, "kick", "no open sessions on "+r.src.Name)
	}
}
