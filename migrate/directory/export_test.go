package directory

import "crypto/x509"

// SetRootCAs makes d's StartTLS trust pool instead of the system roots, so
// that tests can use a certificate of their own.
func SetRootCAs(d *LDAP, pool *x509.CertPool) { d.rootCAs = pool }
