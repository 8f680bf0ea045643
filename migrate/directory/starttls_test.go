package directory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/testserver"
)

// tlsSlapd is the test directory restarted with a certificate for 127.0.0.1
// and "security tls=1": it refuses every operation but StartTLS on a
// connection without TLS, so whatever succeeds against it was encrypted.
type tlsSlapd struct {
	*testserver.Slapd
	url   string // ldap://127.0.0.1:port
	roots *x509.CertPool
	log   string
}

func startTLSSlapd(t *testing.T) *tlsSlapd {
	t.Helper()
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers, Groups: testGroups})
	s.Stop() // the database stays; it is served again below, with TLS
	bin := testserver.RequireBinary(t, "slapd")

	certPEM, keyPEM := selfSigned(t)
	cert := filepath.Join(s.Dir, "tls-cert.pem")
	key := filepath.Join(s.Dir, "tls-key.pem")
	for path, data := range map[string][]byte{cert: certPEM, key: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(s.Dir, "slapd.conf")
	conf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	// Global directives come before the first database.
	global := "TLSCertificateFile " + cert + "\nTLSCertificateKeyFile " + key + "\nsecurity tls=1\n"
	tlsConf := strings.Replace(string(conf), "database mdb\n", global+"database mdb\n", 1)
	if tlsConf == string(conf) {
		t.Fatalf("slapd.conf has no %q line:\n%s", "database mdb", conf)
	}
	tlsConfPath := filepath.Join(s.Dir, "slapd-tls.conf")
	if err := os.WriteFile(tlsConfPath, []byte(tlsConf), 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	ts := &tlsSlapd{Slapd: s, roots: roots, log: filepath.Join(s.Dir, "slapd-tls.log")}

	for try := 0; ; try++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
		logFile, err := os.OpenFile(ts.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-d", "stats", "-f", tlsConfPath, "-h", "ldap://"+addr+"/")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		err = cmd.Start()
		logFile.Close()
		if err != nil {
			t.Fatalf("start slapd: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if waitListening(addr, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(30 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			ts.url = "ldap://" + addr
			return ts
		}
		_ = cmd.Process.Kill()
		<-exited
		if try == 2 {
			out, _ := os.ReadFile(ts.log)
			t.Fatalf("slapd with TLS did not start on %s:\n%s", addr, out)
		}
	}
}

// waitListening reports whether addr accepts connections before the process
// exits or 30 s pass.
func waitListening(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// selfSigned returns a certificate for 127.0.0.1 that is its own CA, and its key.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "movewizard test directory"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

func (s *tlsSlapd) config(startTLS bool) config.Directory {
	return config.Directory{
		URL:           s.url,
		StartTLS:      startTLS,
		BindDN:        s.AdminDN,
		BindPassword:  s.AdminPassword,
		BaseDN:        s.BaseDN,
		UserFilter:    config.DefaultUserFilter,
		HomeAttribute: config.DefaultHomeAttribute,
		AdminGroup:    s.GroupDN("wave1"),
	}
}

// TestLDAPStartTLS: with starttls every operation, the service's bind and a
// person's sign-in bind included, runs over TLS verified against the trusted
// roots; without it the same server refuses them.
func TestLDAPStartTLS(t *testing.T) {
	s := startTLSSlapd(t)
	ctx := context.Background()

	d := directory.NewLDAP(s.config(true))
	directory.SetRootCAs(d, s.roots)
	if err := d.Check(ctx); err != nil {
		t.Fatalf("Check() over StartTLS = %v, want nil", err)
	}
	if u, err := d.Lookup(ctx, "user001"); err != nil || u.Home != src {
		t.Errorf("Lookup(user001) over StartTLS = %+v, %v; want home %q", u, err, src)
	}
	if err := d.SetHome(ctx, s.UserDN("user002"), src, dst); err != nil {
		t.Errorf("SetHome() over StartTLS = %v, want nil", err)
	}
	id, err := d.Authenticate(ctx, "user001", "pw-user001")
	if err != nil || id.Role != model.RoleAdmin {
		t.Errorf("Authenticate(user001) over StartTLS = %+v, %v; want an admin", id, err)
	}
	if _, err := d.Authenticate(ctx, "user001", "wrong"); !errors.Is(err, directory.ErrBadCredentials) {
		t.Errorf("Authenticate(user001, wrong password) over StartTLS = %v, want ErrBadCredentials", err)
	}

	// The server really insists: without StartTLS nothing gets through, the
	// sign-in bind included.
	plain := directory.NewLDAP(s.config(false))
	if err := plain.Check(ctx); !ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) {
		t.Errorf("Check() without StartTLS = %v, want confidentiality required", err)
	}
	if _, err := plain.Authenticate(ctx, "user001", "pw-user001"); err == nil {
		t.Errorf("Authenticate() without StartTLS = nil error, want a refusal")
	}

	// The certificate is verified: the system roots do not know it.
	untrusted := directory.NewLDAP(s.config(true))
	// go-ldap keeps only the text of the handshake error.
	err = untrusted.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "starttls to "+s.url) ||
		!strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("Check() over StartTLS with an untrusted certificate = %v, want an unknown authority error naming starttls", err)
	}
	// The name is verified: the certificate is for 127.0.0.1 only.
	cfg := s.config(true)
	cfg.URL = strings.Replace(s.url, "127.0.0.1", "localhost", 1)
	wrongName := directory.NewLDAP(cfg)
	directory.SetRootCAs(wrongName, s.roots)
	if err := wrongName.Check(ctx); err == nil || !strings.Contains(err.Error(), "wanted to match localhost") {
		t.Errorf("Check() over StartTLS to another name = %v, want a host name error", err)
	}
}

// TestLDAPStartTLSRefused: a server that offers no TLS fails the session
// before any bind, rather than falling back to cleartext.
func TestLDAPStartTLSRefused(t *testing.T) {
	s := testserver.StartSlapd(t, testserver.SlapdOptions{Users: testUsers, Groups: testGroups})
	cfg := ldapConfig(s)
	cfg.StartTLS = true
	d := directory.NewLDAP(cfg)
	err := d.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "starttls to "+s.URL) {
		t.Errorf("Check() with StartTLS against a server without TLS = %v, want a starttls error", err)
	}
	if _, err := d.Authenticate(context.Background(), "user001", "pw-user001"); err == nil ||
		errors.Is(err, directory.ErrBadCredentials) || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("Authenticate() with StartTLS against a server without TLS = %v, want a starttls error", err)
	}
	if strings.Contains(s.Log(), `BIND dn="`+s.UserDN("user001")) {
		t.Errorf("slapd log shows a bind as user001 although StartTLS failed:\n%s", s.Log())
	}
}
