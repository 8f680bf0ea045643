package migrate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/imapmem"
	"github.com/movewizard/movewizard/migrate/testenv"
)

// reachListener serves each connection with greet (nil: accept and say
// nothing until the client leaves) and stops in t.Cleanup.
func reachListener(t *testing.T, tlsConfig *tls.Config, greet func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if greet != nil {
					greet(c)
				}
				// Wait for the client to hang up.
				buf := make([]byte, 64)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

func reachSay(line string) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Write([]byte(line)); err != nil {
			return
		}
	}
}

// reachCert returns a self-signed certificate for 127.0.0.1.
func reachCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "reach test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// reachClosedPort returns an address on which nothing listens.
func reachClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestReachable(t *testing.T) {
	_, memAddr := testenv.Serve(t, imapmem.Options{})
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{reachCert(t)}}
	tlsAddr := reachListener(t, tlsConfig, reachSay("* OK [CAPABILITY IMAP4rev1] tls ready\r\n"))

	for _, tc := range []struct {
		name     string
		server   config.Server
		timeout  time.Duration
		greeting string // prefix of the greeting, when reachable
		wantErr  error  // errors.Is target, when not
		refusal  string // the greeting returned with the error
	}{
		{name: "imapmem", server: config.Server{Name: "mem", Address: memAddr, TLS: config.TLSNone},
			greeting: "* OK"},
		{name: "starttls reads the plain greeting", server: config.Server{Name: "mem", Address: memAddr, TLS: config.TLSStartTLS},
			greeting: "* OK"},
		{name: "preauth", server: config.Server{Name: "pre",
			Address: reachListener(t, nil, reachSay("* PREAUTH welcome\r\n"))}, greeting: "* PREAUTH welcome"},
		{name: "implicit tls skipping verification", server: config.Server{Name: "tls", Address: tlsAddr,
			TLS: config.TLSImplicit, TLSSkipVerify: true}, greeting: "* OK [CAPABILITY IMAP4rev1] tls ready"},
		{name: "implicit tls with an unknown authority", server: config.Server{Name: "tls", Address: tlsAddr,
			TLS: config.TLSImplicit}, wantErr: &tls.CertificateVerificationError{}},
		{name: "closed port", server: config.Server{Name: "gone", Address: reachClosedPort(t)},
			wantErr: syscall.ECONNREFUSED},
		{name: "bye", server: config.Server{Name: "bye",
			Address: reachListener(t, nil, reachSay("* BYE too many connections\r\n"))}, wantErr: migrate.ErrRefused,
			refusal: "* BYE too many connections"},
		{name: "not imap", server: config.Server{Name: "smtp",
			Address: reachListener(t, nil, reachSay("220 mail.example.org ESMTP\r\n"))}, wantErr: migrate.ErrRefused,
			refusal: "220 mail.example.org ESMTP"},
		{name: "silent", server: config.Server{Name: "silent", Address: reachListener(t, nil, nil)},
			timeout: 200 * time.Millisecond, wantErr: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			greeting, err := migrate.Greeting(ctx, tc.server)
			rerr := migrate.Reachable(ctx, tc.server)
			if tc.wantErr == nil {
				if err != nil || !strings.HasPrefix(greeting, tc.greeting) {
					t.Fatalf("Greeting() = %q, %v, want %q…, nil", greeting, err, tc.greeting)
				}
				if rerr != nil {
					t.Errorf("Reachable() = %v, want nil", rerr)
				}
				return
			}
			var certErr *tls.CertificateVerificationError
			matches := errors.Is(err, tc.wantErr)
			if _, ok := tc.wantErr.(*tls.CertificateVerificationError); ok {
				matches = errors.As(err, &certErr)
			}
			if !matches || greeting != tc.refusal {
				t.Errorf("Greeting() = %q, %v, want %q and an error matching %T %v", greeting, err, tc.refusal, tc.wantErr, tc.wantErr)
			}
			if rerr == nil {
				t.Errorf("Reachable() = nil, want %v", tc.wantErr)
			}
		})
	}
}
