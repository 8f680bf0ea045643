package testserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dovecot instances are independent: own config (-c), base_dir, state_dir, instance_name and
// log, so that a test may run a source and a target at once and several test binaries may
// run in parallel. Dovecot runs as root in the foreground (-F) as our child, so Stop can wait
// for it; mail belongs to the vmail system user.

const (
	dovecotMasterUser     = "admin"
	dovecotMasterPassword = "adminpw"
	// dovecotStartTimeout only guards against a hung start; it is not a speed assertion.
	dovecotStartTimeout = 30 * time.Second
	dovecotStopTimeout  = 30 * time.Second
	dovecotStartTries   = 3
)

// dovecotSpecialUse lists the special-use folders configured in every personal namespace.
var dovecotSpecialUse = []struct{ name, use string }{
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Archive", `\Archive`},
}

// DovecotOptions configures StartDovecot.
type DovecotOptions struct {
	Sep         string            // hierarchy separator, "." or "/" (default "/")
	Prefix      string            // personal namespace prefix: "" (default) or e.g. "INBOX." (must end with Sep)
	Users       map[string]string // uid -> password
	AutoSpecial bool              // create and subscribe Sent, Drafts, Trash, Archive for each user
	QuotaBytes  int64             // > 0: maildir quota with this storage limit, and IMAP QUOTA
	// DoveadmAPIKey, if set, enables the doveadm HTTP API on 127.0.0.1 with this
	// doveadm_api_key; Dovecot.DoveadmURL is its endpoint.
	DoveadmAPIKey string
}

// Dovecot is a running Dovecot 2.3 IMAP server on 127.0.0.1.
type Dovecot struct {
	Addr           string // "127.0.0.1:port"
	Port           int
	Dir            string // state dir: config, users, mail, homes, log
	Sep, Prefix    string
	MasterUser     string // log in as "user*admin", or SASL PLAIN authzid=user authcid=admin
	MasterPassword string
	Users          map[string]string // uid -> password, a copy of the options'
	InstanceName   string            // unique; Dovecot puts it in its process titles
	ConfigPath     string            // for doveadm -c
	DoveadmURL     string            // the doveadm HTTP API endpoint, with DovecotOptions.DoveadmAPIKey
	Pid            int               // the master process

	baseDir     string // short path under /tmp: unix socket paths are limited to ~108 bytes
	doveadmPort int    // the doveadm HTTP listener's, with DovecotOptions.DoveadmAPIKey
	cmd         *exec.Cmd
	exited      chan struct{} // closed when cmd.Wait returned
	stopOnce    sync.Once
}

// DovecotUsers returns n users user001…userNNN with the password "pw-<uid>", the convention
// of the benchmark servers.
func DovecotUsers(n int) map[string]string {
	users := make(map[string]string, n)
	for i := 1; i <= n; i++ {
		uid := fmt.Sprintf("user%03d", i)
		users[uid] = "pw-" + uid
	}
	return users
}

// MasterLogin returns the LOGIN user name that signs in as uid with the master password.
func (d *Dovecot) MasterLogin(uid string) string {
	return uid + "*" + d.MasterUser
}

// StartDovecot starts a Dovecot instance in its own temporary directory on a free port and
// registers a t.Cleanup that stops it. It returns once the port accepts connections and
// master.pid exists.
func StartDovecot(t testing.TB, opts DovecotOptions) *Dovecot {
	t.Helper()
	if os.Geteuid() != 0 {
		requirementMissing(t, "StartDovecot: dovecot tests must run as root")
	}
	bin := RequireBinary(t, "dovecot")
	if err := validateDovecotOptions(&opts); err != nil {
		t.Fatalf("StartDovecot: %v", err)
	}
	uid, gid, err := ensureVmailUser()
	if err != nil {
		t.Fatalf("StartDovecot: %v", err)
	}
	d := &Dovecot{
		Dir:            t.TempDir(),
		Sep:            opts.Sep,
		Prefix:         opts.Prefix,
		MasterUser:     dovecotMasterUser,
		MasterPassword: dovecotMasterPassword,
		Users:          make(map[string]string, len(opts.Users)),
	}
	for u, p := range opts.Users {
		d.Users[u] = p
	}
	d.baseDir, err = os.MkdirTemp("/tmp", "dc")
	if err != nil {
		t.Fatalf("StartDovecot: base dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(d.baseDir); err != nil {
			t.Errorf("StartDovecot: remove base dir: %v", err)
		}
	})
	d.InstanceName = "ts" + filepath.Base(d.baseDir)
	d.ConfigPath = filepath.Join(d.Dir, "dovecot.conf")
	if err := d.prepareDirs(uid, gid); err != nil {
		t.Fatalf("StartDovecot: %v", err)
	}
	t.Cleanup(d.Stop)

	for try := 1; ; try++ {
		d.Port = FreePort(t)
		d.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.Port))
		if opts.DoveadmAPIKey != "" {
			d.doveadmPort = FreePort(t)
			d.DoveadmURL = fmt.Sprintf("http://127.0.0.1:%d/doveadm/v1", d.doveadmPort)
		}
		if err := os.WriteFile(d.ConfigPath, []byte(d.config(opts, uid)), 0o644); err != nil {
			t.Fatalf("StartDovecot: write config: %v", err)
		}
		err := d.start(bin)
		if err == nil {
			return d
		}
		// Another process may have bound the port between FreePort and dovecot's bind.
		if try < dovecotStartTries && d.exitedEarly() && strings.Contains(d.Log(), "in use") {
			continue
		}
		t.Fatalf("StartDovecot: %v\n%s", err, d.Log())
	}
}

func validateDovecotOptions(opts *DovecotOptions) error {
	if opts.Sep == "" {
		opts.Sep = "/"
	}
	if opts.Sep != "." && opts.Sep != "/" {
		return fmt.Errorf("separator %q: want \".\" or \"/\"", opts.Sep)
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, opts.Sep) {
		return fmt.Errorf("prefix %q does not end with separator %q", opts.Prefix, opts.Sep)
	}
	for u, p := range opts.Users {
		// passwd-file fields are ':'-separated; '*' splits master logins; '/' would escape
		// the mail directory.
		if u == "" || u == dovecotMasterUser || strings.ContainsAny(u, ":*/ \t\r\n\"") {
			return fmt.Errorf("user name %q not usable", u)
		}
		if strings.ContainsAny(p, ":\r\n") {
			return fmt.Errorf("password of user %q contains ':' or a newline", u)
		}
	}
	return nil
}

// ensureVmailUser returns the ids of the vmail system user, creating it like servers.sh.
// Parallel test binaries may race on useradd, so a failure is only an error if the user
// still does not exist afterwards.
func ensureVmailUser() (uid, gid int, err error) {
	u, lookupErr := user.Lookup("vmail")
	if lookupErr != nil {
		out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "vmail").CombinedOutput()
		for i := 0; i < 50; i++ {
			if u, lookupErr = user.Lookup("vmail"); lookupErr == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if lookupErr != nil {
			return 0, 0, fmt.Errorf("create user vmail: %w: %s", errors.Join(addErr, lookupErr), out)
		}
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		return 0, 0, fmt.Errorf("vmail uid %q: %w", u.Uid, err)
	}
	if gid, err = strconv.Atoi(u.Gid); err != nil {
		return 0, 0, fmt.Errorf("vmail gid %q: %w", u.Gid, err)
	}
	return uid, gid, nil
}

// prepareDirs lays out the state dir. t.TempDir and os.MkdirTemp create 0700 directories;
// vmail must traverse them to reach its mail, and Dovecot's unprivileged login and auth
// processes must reach base_dir.
func (d *Dovecot) prepareDirs(uid, gid int) error {
	for _, dir := range []string{filepath.Dir(d.Dir), d.Dir, d.baseDir} {
		if err := os.Chmod(dir, 0o755); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	for _, sub := range []string{"state", "mail", "home"} {
		if err := os.Mkdir(filepath.Join(d.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", sub, err)
		}
	}
	for _, sub := range []string{"mail", "home"} {
		if err := os.Chown(filepath.Join(d.Dir, sub), uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", sub, err)
		}
	}
	var users strings.Builder
	for u, p := range d.Users {
		fmt.Fprintf(&users, "%s:{PLAIN}%s::::::\n", u, p)
	}
	// Readable by all: the auth process may not run as root, and these are test passwords.
	if err := os.WriteFile(filepath.Join(d.Dir, "users"), []byte(users.String()), 0o644); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	master := fmt.Sprintf("%s:{PLAIN}%s::::::\n", d.MasterUser, d.MasterPassword)
	if err := os.WriteFile(filepath.Join(d.Dir, "master-users"), []byte(master), 0o644); err != nil {
		return fmt.Errorf("write master-users: %w", err)
	}
	return nil
}

// config renders dovecot.conf; it reads no file from /etc/dovecot.
func (d *Dovecot) config(opts DovecotOptions, vmailUID int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# generated by migrate/testserver")
	w("instance_name = %s", d.InstanceName)
	w("base_dir = %s", d.baseDir)
	w("state_dir = %s", filepath.Join(d.Dir, "state"))
	w("log_path = %s", filepath.Join(d.Dir, "dovecot.log"))
	w("listen = 127.0.0.1")
	w("protocols = imap")
	w("ssl = no")
	w("disable_plaintext_auth = no")
	w("auth_mechanisms = plain login")
	w("auth_verbose = yes")
	// Tests of wrong passwords need not wait the default 2 s per failure.
	w("auth_failure_delay = 0")
	w("auth_master_user_separator = *")
	w("mail_location = maildir:%s/%%u", filepath.Join(d.Dir, "mail"))
	w("mail_uid = vmail")
	w("mail_gid = vmail")
	w("first_valid_uid = %d", vmailUID)
	w("last_valid_uid = %d", vmailUID)
	w("mail_max_userip_connections = 200")
	w("mail_fsync = never")
	w("namespace inbox {")
	w("  inbox = yes")
	w("  separator = %s", d.Sep)
	w("  prefix = %s", d.Prefix)
	for _, m := range dovecotSpecialUse {
		w("  mailbox %s {", m.name)
		w("    special_use = %s", m.use)
		if opts.AutoSpecial {
			w("    auto = subscribe")
		}
		w("  }")
	}
	w("}")
	// The master passdb comes first; pass = yes still requires the target user in the
	// normal passdb, which is what a real deployment checks too.
	w("passdb {")
	w("  driver = passwd-file")
	w("  args = %s", filepath.Join(d.Dir, "master-users"))
	w("  master = yes")
	w("  pass = yes")
	w("}")
	w("passdb {")
	w("  driver = passwd-file")
	w("  args = %s", filepath.Join(d.Dir, "users"))
	w("}")
	w("userdb {")
	w("  driver = passwd-file")
	w("  args = %s", filepath.Join(d.Dir, "users"))
	w("  default_fields = uid=vmail gid=vmail home=%s/%%u", filepath.Join(d.Dir, "home"))
	w("}")
	if opts.QuotaBytes > 0 {
		w("mail_plugins = $mail_plugins quota")
		w("protocol imap {")
		w("  mail_plugins = $mail_plugins imap_quota")
		w("}")
		w("plugin {")
		w("  quota = maildir:User quota")
		w("  quota_rule = *:storage=%dB", opts.QuotaBytes)
		w("}")
	}
	if opts.DoveadmAPIKey != "" {
		w("doveadm_api_key = %s", opts.DoveadmAPIKey)
		w("service doveadm {")
		w("  inet_listener http {")
		w("    address = 127.0.0.1")
		w("    port = %d", d.doveadmPort)
		w("  }")
		w("}")
	}
	w("service imap-login {")
	w("  inet_listener imap {")
	w("    address = 127.0.0.1")
	w("    port = %d", d.Port)
	w("  }")
	w("  inet_listener imaps {")
	w("    port = 0")
	w("  }")
	w("}")
	return b.String()
}

// start runs the master in the foreground and waits until it serves IMAP.
func (d *Dovecot) start(bin string) error {
	stderr, err := os.OpenFile(filepath.Join(d.Dir, "dovecot.stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open stderr file: %w", err)
	}
	cmd := exec.Command(bin, "-F", "-c", d.ConfigPath)
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	// If the test binary dies without running its cleanups, the master goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("start %s: %w", bin, err), stderr.Close())
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		// The child holds its own copy of the descriptor; ours is only for Start.
		_ = stderr.Close() // nothing useful to do on failure: the file is only read by Log
		close(exited)
	}()
	d.cmd, d.exited, d.Pid = cmd, exited, cmd.Process.Pid

	deadline := time.Now().Add(dovecotStartTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("dovecot exited during start: %w", waitErr)
		default:
		}
		if d.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dovecot not ready on %s after %v", d.Addr, dovecotStartTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether the port accepts connections and master.pid names our process:
// the port opens before master.pid is written.
func (d *Dovecot) ready() bool {
	conn, err := net.DialTimeout("tcp", d.Addr, time.Second)
	if err != nil {
		return false
	}
	if err := conn.Close(); err != nil {
		return false
	}
	b, err := os.ReadFile(filepath.Join(d.baseDir, "master.pid"))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && pid == d.Pid
}

// Stop stops the server and waits until the master and every process of the instance
// have exited. It may be called more than once.
func (d *Dovecot) Stop() {
	d.stopOnce.Do(func() {
		if d.cmd == nil {
			return
		}
		select {
		case <-d.exited:
		default:
			if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				d.kill()
			}
			select {
			case <-d.exited:
			case <-time.After(dovecotStopTimeout):
				d.kill()
			}
		}
		// The log process goes last, so that it records the others' last words.
		d.endProcesses(func(title string) bool { return !strings.HasSuffix(title, "/log") })
		d.endProcesses(func(string) bool { return true })
	})
}

// kill ends a master that ignored SIGTERM; endProcesses deals with its children.
func (d *Dovecot) kill() {
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return // cannot be signalled: waiting would hang
	}
	<-d.exited
}

// exitedEarly reports whether the master has exited on its own.
func (d *Dovecot) exitedEarly() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// endProcesses ends the instance's processes whose title matches. Children outlive the
// master: an imap process serving a client lingers about ten seconds before it notices the
// shutdown, so it gets its own SIGTERM, and a SIGKILL if it ignores that.
func (d *Dovecot) endProcesses(match func(title string) bool) {
	selected := func() []int {
		var pids []int
		for pid, title := range d.processes() {
			if match(title) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	signal := func(pids []int, sig syscall.Signal) {
		for _, pid := range pids {
			// Best effort: the process may have exited since it was listed.
			_ = syscall.Kill(pid, sig)
		}
	}
	signal(selected(), syscall.SIGTERM)
	deadline := time.Now().Add(dovecotStopTimeout)
	for {
		pids := selected()
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			signal(pids, syscall.SIGKILL)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processes lists the live processes of this instance. Dovecot titles its children
// "dovecot-<instance_name>/<service>", and the master's command line names our config file.
func (d *Dovecot) processes() map[int]string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	pids := make(map[int]string)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		s := string(cmdline)
		title := strings.TrimRight(strings.TrimPrefix(s, "dovecot-"), " \x00")
		if strings.HasPrefix(title, d.InstanceName+"/") || strings.Contains(s, d.ConfigPath) {
			pids[pid] = title
		}
	}
	return pids
}

// Log returns the server's log file and anything it wrote to stderr, for failure messages.
func (d *Dovecot) Log() string {
	var b strings.Builder
	for _, name := range []string{"dovecot.stderr", "dovecot.log"} {
		data, err := os.ReadFile(filepath.Join(d.Dir, name))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(&b, "read %s: %v\n", name, err)
			}
			continue
		}
		b.Write(data)
	}
	return b.String()
}
