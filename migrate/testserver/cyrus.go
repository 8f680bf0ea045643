package testserver

import (
	"bufio"
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

// Cyrus instances are independent: each has its own imapd.conf, cyrus.conf, configdirectory,
// spool, sasldb and log in a short directory under /tmp (Cyrus binds a unix socket per imapd
// under configdirectory, and socket paths are limited to ~108 bytes).
//
// Debian's cyrus-imapd package conflicts with dovecot-imapd, so the server binaries come
// from that package unpacked with dpkg -x into CyrusDir (which .ci/run fills), while
// cyrus-common (master, the libraries, the cyrus user), cyrus-admin and sasl2-bin are
// installed normally.
//
// Cyrus 3.6 logs only to syslog (/dev/log), and there may be no syslog daemon. So the
// master runs in its own mount and PID namespace: a tmpfs replaces /dev there, holding the
// few device nodes Cyrus needs and, as /dev/log, a datagram socket this package reads into
// cyrus.log. The PID namespace's init is a shell that is our child: it dies with the test
// binary (Pdeathsig), and the kernel then kills every process of the instance. Pdeathsig
// on the master itself would not do: it is cleared when the master drops root for the
// cyrus user.

const (
	cyrusAdminUser     = "admin"
	cyrusAdminPassword = "adminpw"
	// cyrusStartTimeout only guards against a hung start; it is not a speed assertion.
	cyrusStartTimeout = 30 * time.Second
	cyrusStopTimeout  = 30 * time.Second
	cyrusStartTries   = 3
	// CyrusDirEnv names the directory where the cyrus-imapd package is unpacked; default
	// DefaultCyrusDir.
	CyrusDirEnv = "MOVEWIZARD_CYRUS_DIR"
	// DefaultCyrusDir is where .ci/run unpacks the cyrus-imapd package (dpkg -x).
	DefaultCyrusDir = "/opt/cyrus-imapd"
)

// cyrusSpecialUse lists the folders CyrusOptions.AutoSpecial creates, with the xlist-*
// option that gives each its special-use flag.
var cyrusSpecialUse = []struct{ name, option string }{
	{"Sent", "xlist-sent"},
	{"Drafts", "xlist-drafts"},
	{"Trash", "xlist-trash"},
	{"Archive", "xlist-archive"},
}

// CyrusOptions configures StartCyrus. The zero value is Debian 12's shipped namespace:
// separator ".", personal folders under "INBOX.", and munge8bit on.
type CyrusOptions struct {
	Users map[string]string // uid -> password
	// UnixHierarchySep sets unixhierarchysep: yes, separator "/" (default no: ".").
	UnixHierarchySep bool
	// AltNamespace sets altnamespace: yes: personal folders beside INBOX instead of
	// under "INBOX"+Sep (default no).
	AltNamespace bool
	// Keep8bit sets munge8bit: 0, so APPEND stores raw 8-bit header bytes as they are.
	// By default (munge8bit: 1, as shipped) Cyrus replaces each with 'X'.
	Keep8bit bool
	// AutoSpecial creates and subscribes Sent, Drafts, Trash and Archive, with their
	// special-use flags, when a user's INBOX is created at the first login.
	AutoSpecial bool
	// QuotaBytes > 0 gives every user a STORAGE quota of this many bytes (a multiple of
	// 1024: Cyrus counts in KiB), set when the INBOX is created at the first login.
	QuotaBytes int64
}

// Cyrus is a running Cyrus IMAP 3.6 server on 127.0.0.1. Users' INBOXes are created at
// their first login (autocreate_quota); the admin may log in as any user with SASL PLAIN,
// authorization identity = user, authentication identity = AdminUser.
type Cyrus struct {
	Addr          string // "127.0.0.1:port"
	Port          int
	Dir           string // config, databases, spool, sasldb, logs; short, under /tmp
	Sep, Prefix   string // hierarchy separator, personal namespace prefix ("" or "INBOX"+Sep)
	AdminUser     string // in admins:, may authenticate as any user
	AdminPassword string
	Users         map[string]string // uid -> password, a copy of the options'
	ConfigPath    string            // imapd.conf, for the Cyrus tools' -C
	// Pid is the init process of the instance's PID namespace (a shell, our child);
	// every process of the instance ends when it does.
	Pid int

	imapd, master string
	// serverName is unique to the instance: imapd puts it in its greeting, which tells
	// our server from another that took the port. It is also the realm of the sasldb
	// entries: imapd looks users up in the realm of its servername.
	serverName string
	pidNS      string // /proc/<pid>/ns/pid link of the instance
	syslog     *net.UnixConn
	syslogDone chan struct{} // closed when the syslog reader returned
	cmd        *exec.Cmd
	exited     chan struct{} // closed when cmd.Wait returned
	stopOnce   sync.Once
}

// CyrusDir returns the directory holding the unpacked cyrus-imapd package:
// $MOVEWIZARD_CYRUS_DIR, or /opt/cyrus-imapd.
func CyrusDir() string {
	if d := os.Getenv(CyrusDirEnv); d != "" {
		return d
	}
	return DefaultCyrusDir
}

// StartCyrus starts a Cyrus instance in its own directory on a free port and registers a
// t.Cleanup that stops it. It returns once the port greets with "* OK". Missing binaries or
// the cyrus user skip the test (fail it under CI).
func StartCyrus(t testing.TB, opts CyrusOptions) *Cyrus {
	t.Helper()
	if os.Geteuid() != 0 {
		requirementMissing(t, "StartCyrus: cyrus tests must run as root")
	}
	if err := validateCyrusOptions(opts); err != nil {
		t.Fatalf("StartCyrus: %v", err)
	}
	c := &Cyrus{
		Sep:           ".",
		AdminUser:     cyrusAdminUser,
		AdminPassword: cyrusAdminPassword,
		Users:         make(map[string]string, len(opts.Users)),
	}
	if opts.UnixHierarchySep {
		c.Sep = "/"
	}
	if !opts.AltNamespace {
		c.Prefix = "INBOX" + c.Sep
	}
	for u, p := range opts.Users {
		c.Users[u] = p
	}
	c.findBinaries(t)
	saslpasswd := RequireBinary(t, "saslpasswd2")
	sh := RequireBinary(t, "sh")
	RequireBinary(t, "mount")
	cyrusUID, cyrusGID := lookupCyrusUser(t)

	dir, err := os.MkdirTemp("/tmp", "cy")
	if err != nil {
		t.Fatalf("StartCyrus: %v", err)
	}
	c.Dir = dir
	c.serverName = filepath.Base(dir) + ".localhost"
	c.ConfigPath = filepath.Join(dir, "imapd.conf")
	t.Cleanup(func() {
		// Only the instance's mount namespace ever mounted anything under Dir, and it is
		// gone with its processes; an empty dev directory confirms it.
		if err := os.Remove(filepath.Join(dir, "dev")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("StartCyrus: %v; leaving %s", err, dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("StartCyrus: remove %s: %v", dir, err)
		}
	})
	if err := c.prepareDirs(cyrusUID, cyrusGID); err != nil {
		t.Fatalf("StartCyrus: %v", err)
	}
	if err := c.writeSASLDB(saslpasswd, cyrusUID, cyrusGID); err != nil {
		t.Fatalf("StartCyrus: %v", err)
	}
	if err := c.listenSyslog(); err != nil {
		t.Fatalf("StartCyrus: %v", err)
	}
	t.Cleanup(c.Stop)

	for try := 1; ; try++ {
		c.Port = FreePort(t)
		c.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
		if err := os.WriteFile(c.ConfigPath, []byte(c.imapdConf(opts)), 0o644); err != nil {
			t.Fatalf("StartCyrus: write imapd.conf: %v", err)
		}
		if err := os.WriteFile(c.cyrusConfPath(), []byte(c.cyrusConf()), 0o644); err != nil {
			t.Fatalf("StartCyrus: write cyrus.conf: %v", err)
		}
		err := c.start(sh)
		if err == nil {
			return c
		}
		// Another process may have bound the port between FreePort and the master's bind;
		// master_bind_errors_fatal makes the master exit then.
		if try < cyrusStartTries && c.exitedEarly() && strings.Contains(c.Log(), "in use") {
			continue
		}
		t.Fatalf("StartCyrus: %v\n%s", err, c.Log())
	}
}

func validateCyrusOptions(opts CyrusOptions) error {
	if opts.QuotaBytes < 0 || opts.QuotaBytes%1024 != 0 {
		return fmt.Errorf("QuotaBytes %d: want a multiple of 1024 (Cyrus counts KiB), or 0 for none", opts.QuotaBytes)
	}
	for u, p := range opts.Users {
		// Separators would make the name a hierarchy, '@' a domain; anyone and anonymous
		// are Cyrus identifiers.
		if u == "" || u == cyrusAdminUser || u == "anyone" || u == "anonymous" ||
			strings.ContainsAny(u, "./@^ \t\r\n\"\\%*") {
			return fmt.Errorf("user name %q not usable", u)
		}
		if p == "" || strings.ContainsAny(p, "\r\n") {
			return fmt.Errorf("password of user %q is empty or contains a newline", u)
		}
	}
	return nil
}

// findBinaries finds imapd in the unpacked cyrus-imapd package and the master, which
// cyrus-common installs (or the unpacked tree, if it has one).
func (c *Cyrus) findBinaries(t testing.TB) {
	t.Helper()
	bin := filepath.Join(CyrusDir(), "usr/lib/cyrus/bin")
	c.imapd = filepath.Join(bin, "imapd")
	if !isExecutable(c.imapd) {
		requirementMissing(t, "StartCyrus: %s not found: unpack Debian's cyrus-imapd package into %s "+
			"(apt-get download cyrus-imapd; dpkg -x cyrus-imapd_*.deb %s) or set %s; see .ci/run",
			c.imapd, CyrusDir(), CyrusDir(), CyrusDirEnv)
	}
	for _, m := range []string{filepath.Join(bin, "master"), "/usr/lib/cyrus/bin/master"} {
		if isExecutable(m) {
			c.master = m
			return
		}
	}
	requirementMissing(t, "StartCyrus: /usr/lib/cyrus/bin/master not found: install cyrus-common")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// lookupCyrusUser returns the ids of the cyrus user, which cyrus-common creates.
func lookupCyrusUser(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("cyrus")
	if err != nil {
		requirementMissing(t, "StartCyrus: user cyrus: %v (install cyrus-common)", err)
		return 0, 0
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		t.Fatalf("StartCyrus: cyrus uid %q: %v", u.Uid, err)
	}
	if gid, err = strconv.Atoi(u.Gid); err != nil {
		t.Fatalf("StartCyrus: cyrus gid %q: %v", u.Gid, err)
	}
	return uid, gid
}

func (c *Cyrus) cyrusConfPath() string { return filepath.Join(c.Dir, "cyrus.conf") }

// prepareDirs lays out Dir: MkdirTemp makes it 0700, but the cyrus user must enter it.
func (c *Cyrus) prepareDirs(uid, gid int) error {
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return err
	}
	// dev is only a mount point; the others belong to cyrus. conf/socket holds each
	// imapd's idle socket.
	for _, sub := range []string{"dev", "conf", "conf/db", "conf/socket", "spool", "lock", "proc"} {
		p := filepath.Join(c.Dir, sub)
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if sub == "dev" {
			continue
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// writeSASLDB creates the sasldb with the admin and the users, readable by cyrus only.
func (c *Cyrus) writeSASLDB(saslpasswd string, uid, gid int) error {
	db := filepath.Join(c.Dir, "sasldb2")
	add := func(u, p string) error {
		cmd := exec.Command(saslpasswd, "-f", db, "-u", c.serverName, "-c", "-p", u)
		cmd.Stdin = strings.NewReader(p + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("saslpasswd2 %s: %w: %s", u, err, out)
		}
		return nil
	}
	if err := add(c.AdminUser, c.AdminPassword); err != nil {
		return err
	}
	for u, p := range c.Users {
		if err := add(u, p); err != nil {
			return err
		}
	}
	if err := os.Chown(db, uid, gid); err != nil {
		return err
	}
	return os.Chmod(db, 0o600)
}

// imapdConf renders imapd.conf; nothing is read from /etc/imapd.conf.
func (c *Cyrus) imapdConf(opts CyrusOptions) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	yesNo := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	w("# generated by migrate/testserver")
	w("configdirectory: %s", filepath.Join(c.Dir, "conf"))
	w("defaultpartition: default")
	w("partition-default: %s", filepath.Join(c.Dir, "spool"))
	w("proc_path: %s", filepath.Join(c.Dir, "proc"))
	w("mboxname_lockpath: %s", filepath.Join(c.Dir, "lock"))
	w("servername: %s", c.serverName)
	w("admins: %s", c.AdminUser)
	w("unixhierarchysep: %s", yesNo(opts.UnixHierarchySep))
	w("altnamespace: %s", yesNo(opts.AltNamespace))
	w("munge8bit: %s", yesNo(!opts.Keep8bit))
	// As Debian ships them:
	w("hashimapspool: true")
	w("allowplaintext: yes")
	w("allowanonymouslogin: no")
	w("sasl_pwcheck_method: auxprop")
	w("sasl_auxprop_plugin: sasldb")
	w("sasl_sasldb_path: %s", filepath.Join(c.Dir, "sasldb2"))
	w("sasl_auto_transition: no")
	w("sasl_mech_list: PLAIN LOGIN")
	// Tests of wrong passwords need not wait the default 3 s per failure.
	w("failedloginpause: 0")
	// A port taken between FreePort and the bind must make the master exit, not run on
	// without the service.
	w("master_bind_errors_fatal: yes")
	// autocreate_quota >= 0 creates the INBOX at the first login, with this quota in KiB
	// (0: none).
	w("autocreate_quota: %d", opts.QuotaBytes/1024)
	if opts.AutoSpecial {
		names := make([]string, len(cyrusSpecialUse))
		for i, m := range cyrusSpecialUse {
			names[i] = m.name
			w("%s: %s", m.option, m.name)
		}
		w("autocreate_inbox_folders: %s", strings.Join(names, "|"))
		w("autocreate_subscribe_folders: %s", strings.Join(names, "|"))
	}
	return b.String()
}

// cyrusConf renders cyrus.conf: the database recovery that initialises the databases
// (without it every imapd logs a DBERROR about the missing db/skipstamp) and the IMAP
// service; no EVENTS. The master does not pass its -C on, so each command gets its own.
func (c *Cyrus) cyrusConf() string {
	ctl := filepath.Join(filepath.Dir(c.master), "ctl_cyrusdb")
	return fmt.Sprintf("# generated by migrate/testserver\n"+
		"START {\n  recover cmd=\"%s -C %s -r\"\n}\n"+
		"SERVICES {\n  imap cmd=\"%s -C %s\" listen=\"%s\" prefork=0\n}\n",
		ctl, c.ConfigPath, c.imapd, c.ConfigPath, c.Addr)
}

// cyrusInit is the init of the instance's namespaces: it builds /dev, starts the master and
// waits for it; SIGTERM is passed on. Its exit ends every process of the namespace.
// Arguments: Dir, master, imapd.conf, cyrus.conf.
const cyrusInit = `set -eu
d=$1
# Mounts stay in this namespace.
mount --make-rprivate /
mount -t tmpfs -o mode=0755,size=1m cyrus-dev "$d/dev"
# The device nodes Cyrus and its libraries may open, from the real /dev.
for n in null zero full random urandom tty; do
	[ -e "/dev/$n" ] || continue
	: >"$d/dev/$n"
	mount --bind "/dev/$n" "$d/dev/$n"
done
ln -s /proc/self/fd "$d/dev/fd"
ln -s /proc/self/fd/0 "$d/dev/stdin"
ln -s /proc/self/fd/1 "$d/dev/stdout"
ln -s /proc/self/fd/2 "$d/dev/stderr"
: >"$d/dev/log"
mount --bind "$d/syslog.sock" "$d/dev/log"
mount --move "$d/dev" /dev
set +e
"$2" -D -C "$3" -M "$4" -p "$d/master.pid" </dev/null &
m=$!
trap 'kill -TERM "$m" 2>/dev/null' TERM INT HUP
while :; do
	wait "$m"
	rc=$?
	kill -0 "$m" 2>/dev/null || exit "$rc"
done
`

// start runs the namespace init with the master and waits until imapd greets.
func (c *Cyrus) start(sh string) error {
	stderr, err := os.OpenFile(filepath.Join(c.Dir, "cyrus.stderr"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open stderr file: %w", err)
	}
	cmd := exec.Command(sh, "-c", cyrusInit, "cyrus-init", c.Dir, c.master, c.ConfigPath, c.cyrusConfPath())
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		// The master's shutdown sends SIGTERM to its process group (kill(0, SIGTERM)):
		// that must not reach other instances of this test binary.
		Setpgid: true,
		// If the test binary dies without running its cleanups, the init goes with it,
		// and the kernel kills the rest of the namespace.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("start %s in new mount and PID namespaces: %w", sh, err), stderr.Close())
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		// The child holds its own copy of the descriptor; ours is only for Start.
		_ = stderr.Close() // nothing useful to do on failure: the file is only read by Log
		close(exited)
	}()
	c.cmd, c.exited, c.Pid = cmd, exited, cmd.Process.Pid
	c.pidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", c.Pid)) // empty if it already exited

	deadline := time.Now().Add(cyrusStartTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("cyrus exited during start: %w", waitErr)
		default:
		}
		if c.ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cyrus not ready on %s after %v", c.Addr, cyrusStartTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether the port greets with "* OK" and our servername: the master
// listens, and an imapd started, read its config and opened its databases.
func (c *Cyrus) ready() bool {
	conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
	if err != nil {
		return false
	}
	defer func() { _ = conn.Close() }() // a probe: nothing to report if closing fails
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return false
	}
	if !strings.HasPrefix(line, "* OK") || !strings.Contains(line, " "+c.serverName+" ") {
		return false
	}
	_, err = conn.Write([]byte("x LOGOUT\r\n"))
	return err == nil
}

// listenSyslog opens Dir/syslog.sock, which becomes /dev/log in the instance, and copies
// what arrives into cyrus.log.
func (c *Cyrus) listenSyslog() error {
	path := filepath.Join(c.Dir, "syslog.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("syslog socket: %w", err)
	}
	// The master and imapd log as the cyrus user.
	if err := os.Chmod(path, 0o666); err != nil {
		return errors.Join(fmt.Errorf("chmod syslog socket: %w", err), conn.Close())
	}
	f, err := os.OpenFile(filepath.Join(c.Dir, "cyrus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return errors.Join(fmt.Errorf("open log: %w", err), conn.Close())
	}
	c.syslog, c.syslogDone = conn, make(chan struct{})
	go func() {
		defer close(c.syslogDone)
		defer f.Close() // written line by line; nothing buffered to lose
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Stop ended the blocking read once the instance had exited:
				// what it logged last is queued in the socket already (a
				// unix datagram is in the receiver's queue when send
				// returns). Read the queue to its end, then return.
				drainSyslog(conn, buf, f)
				return
			}
			if err != nil {
				return
			}
			if _, err := f.WriteString(syslogLine(buf[:n])); err != nil {
				return
			}
		}
	}()
	return nil
}

// drainSyslog copies the datagrams queued in conn to f without waiting for
// more (MSG_DONTWAIT until EAGAIN).
func drainSyslog(conn *net.UnixConn, buf []byte, f *os.File) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			if err != nil || n <= 0 {
				return true // EAGAIN: the queue is empty
			}
			if _, err := f.WriteString(syslogLine(buf[:n])); err != nil {
				return true
			}
		}
	})
}

// syslogSeverities name the low three bits of a syslog priority.
var syslogSeverities = [8]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// syslogLine turns a datagram "<PRI>Mmm dd hh:mm:ss ident[pid]: text" into
// "severity: Mmm dd hh:mm:ss ident[pid]: text\n".
func syslogLine(msg []byte) string {
	s := strings.TrimRight(string(msg), "\n\x00")
	if strings.HasPrefix(s, "<") {
		if end := strings.IndexByte(s, '>'); end > 0 {
			if pri, err := strconv.Atoi(s[1:end]); err == nil && pri >= 0 {
				s = syslogSeverities[pri&7] + ": " + s[end+1:]
			}
		}
	}
	return s + "\n"
}

// Stop stops the server and waits until every process of the instance has exited. It may
// be called more than once.
func (c *Cyrus) Stop() {
	c.stopOnce.Do(func() {
		if c.cmd != nil {
			// The init passes SIGTERM to the master, which ends its imapds and exits;
			// the init follows, and the kernel kills whatever is left in the namespace.
			stopProcess(c.cmd, c.exited)
		}
		if c.syslog != nil {
			// Wake the reader, which drains what is queued and returns; then close.
			_ = c.syslog.SetReadDeadline(time.Now())
			<-c.syslogDone
			_ = c.syslog.Close() // nothing to report: the reader has ended
		}
	})
}

// exitedEarly reports whether the instance has exited on its own.
func (c *Cyrus) exitedEarly() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// processes lists the live processes of the instance by pid and command line: those in its
// PID namespace, and any whose command line names its directory.
func (c *Cyrus) processes() map[int]string {
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
		s := strings.TrimRight(strings.ReplaceAll(string(cmdline), "\x00", " "), " ")
		ns, _ := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid")) // gone if it exited
		if (c.pidNS != "" && ns == c.pidNS) || strings.Contains(s, c.Dir+"/") {
			pids[pid] = s
		}
	}
	return pids
}

// Log returns what the master wrote to stderr and the syslog of the instance, for failure
// messages.
func (c *Cyrus) Log() string {
	var b strings.Builder
	for _, name := range []string{"cyrus.stderr", "cyrus.log"} {
		data, err := os.ReadFile(filepath.Join(c.Dir, name))
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
