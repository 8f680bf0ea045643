package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/directory"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	uid := fs.String("user", "", "log in to each server as this user through the admin credential (default: a user the directory homes on that server)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard check -config FILE [-user UID]\n\n"+
			"Tests the directory bind and each server's admin login, prints what is wrong, and\n"+
			"lists the connections that are not encrypted.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if *configPath == "" {
		return usageErr("check: -config is required")
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	dir := directory.NewLDAP(cfg.Directory)
	problems := 0
	if err := dir.Check(ctx); err != nil {
		fmt.Fprintf(stdout, "directory %s: FAIL: %v\n", cfg.Directory.URL, err)
		problems++
	} else {
		fmt.Fprintf(stdout, "directory %s: ok\n", cfg.Directory.URL)
	}
	for _, s := range cfg.Servers {
		user := *uid
		if user == "" {
			users, err := dir.Search(ctx, directory.UserQuery{Home: s.Home, Limit: 1})
			if err != nil {
				fmt.Fprintf(stdout, "server %s (%s): FAIL: cannot find a user on it in the directory: %v\n", s.Name, s.Address, err)
				problems++
				continue
			}
			if len(users) == 0 {
				// A new target usually has nobody yet: not a problem, but
				// the admin login is untested; say how to test it.
				fmt.Fprintf(stdout, "server %s (%s): not tested: nobody lives on %s yet; use -user UID to test the admin login\n", s.Name, s.Address, s.Home)
				continue
			}
			user = users[0].UID
		}
		if err := migrate.CheckServer(ctx, s, user); err != nil {
			fmt.Fprintf(stdout, "server %s (%s): FAIL as %q: %v\n", s.Name, s.Address, user, err)
			problems++
			continue
		}
		fmt.Fprintf(stdout, "server %s (%s): ok (logged in as %q through admin %q)\n", s.Name, s.Address, user, s.AdminUser)
	}
	// Allowed, so not a problem, but the admin should know where passwords
	// travel in cleartext.
	if plain := cfg.Cleartext(); len(plain) > 0 {
		fmt.Fprintln(stdout, "unencrypted connections (passwords cross them in cleartext):")
		for _, l := range plain {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	} else {
		fmt.Fprintln(stdout, "every connection is encrypted")
	}
	if problems > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d problems", problems)}
	}
	return nil
}
