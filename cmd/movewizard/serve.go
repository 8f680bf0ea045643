package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/movewizard/movewizard/migrate/directory"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard serve -config FILE\n\n"+
			"Runs the web UI and the move runner: queued and interrupted moves of every job run as\n"+
			"the caps and schedules allow, and resume after a restart. Listens on the config's\n"+
			"listen address (HTTPS with tls_cert/tls_key); /healthz answers JSON. SIGTERM stops\n"+
			"the moves at a checkpoint.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	env, err := openEnv(ctx, *configPath, *verbose, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	// A certificate that cannot be used is a configuration error, found
	// before anything listens or runs.
	var tlsConfig *tls.Config
	scheme := "http"
	if env.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(env.cfg.TLSCert, env.cfg.TLSKey)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("serve: cannot use tls_cert %s with tls_key %s: %w",
				env.cfg.TLSCert, env.cfg.TLSKey, err)}
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		scheme = "https"
	}
	// Allowed by the config, but worth a line in every start-up log.
	for _, l := range env.cfg.Cleartext() {
		env.log.Warn("unencrypted connection: passwords cross it in cleartext", "connection", l)
	}
	ln, err := net.Listen("tcp", env.cfg.Listen)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("serve: listen on %s: %w", env.cfg.Listen, err)}
	}
	ldapDir := directory.NewLDAP(env.cfg.Directory)
	fmt.Fprintf(stdout, "movewizard serving on %s://%s (health: /healthz)\n", scheme, ln.Addr())
	svc := service{cfg: env.cfg, store: env.db, dir: ldapDir, auth: ldapDir, log: env.log}
	if err := svc.run(ctx, ln, tlsConfig); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "movewizard stopped; unfinished moves resume at the next start")
	return nil
}
