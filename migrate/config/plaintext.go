package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// isLoopback reports whether host, a host name or IP address without port
// or brackets, is on the loopback interface: "localhost", 127.0.0.0/8 or
// ::1. Traffic to such an address does not leave the machine, so cleartext
// there is allowed without allow_plaintext.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// plaintext reports whether connections to s are unencrypted. An empty TLS,
// possible only in a Config built in code, dials like TLSNone.
func (s Server) plaintext() bool { return s.TLS == TLSNone || s.TLS == "" }

// plaintext reports whether connections to the directory are unencrypted:
// an ldap:// URL without StartTLS.
func (d Directory) plaintext() bool {
	u, err := url.Parse(d.URL)
	return err == nil && u.Scheme == "ldap" && !d.StartTLS
}

// Cleartext lists the connections of c that are not encrypted, one line
// each, for check, the servers page and serve's start-up warnings:
//
//	directory: LDAP without TLS (loopback address)
//	src: IMAP without TLS (allowed by allow_plaintext)
//
// It is empty when every connection is encrypted.
func (c *Config) Cleartext() []string {
	var lines []string
	if l := c.Directory.Cleartext(); l != "" {
		lines = append(lines, "directory: "+l)
	}
	for _, s := range c.Servers {
		if l := s.Cleartext(); l != "" {
			lines = append(lines, s.Name+": "+l)
		}
		if u, err := url.Parse(s.Kick.URL); err == nil && s.Kick.URL != "" && u.Scheme == "http" {
			lines = append(lines, s.Name+": doveadm HTTP API (kick_url) without TLS"+plaintextReason(s.AllowPlaintext, u.Hostname()))
		}
	}
	return append(lines, c.Notify.Cleartext()...)
}

// Cleartext says that connections to s are unencrypted and why that is
// accepted ("IMAP without TLS (allowed by allow_plaintext)"), or is "" when
// they are encrypted.
func (s Server) Cleartext() string {
	if !s.plaintext() {
		return ""
	}
	host, _, _ := net.SplitHostPort(s.Address)
	return "IMAP without TLS" + plaintextReason(s.AllowPlaintext, host)
}

// Cleartext says that connections to the directory are unencrypted and why
// that is accepted ("LDAP without TLS (loopback address)"), or is "" when
// they are encrypted.
func (d Directory) Cleartext() string {
	if !d.plaintext() {
		return ""
	}
	u, _ := url.Parse(d.URL) // Plaintext parsed it
	return "LDAP without TLS" + plaintextReason(d.AllowPlaintext, u.Hostname())
}

// plaintextReason says why cleartext to host is accepted.
func plaintextReason(allowed bool, host string) string {
	switch {
	case allowed:
		return " (allowed by allow_plaintext)"
	case isLoopback(host):
		return " (loopback address)"
	default:
		return ""
	}
}
