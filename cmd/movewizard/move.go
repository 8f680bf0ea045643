package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web/format"
)

func cmdMove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("move", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	target := fs.String("target", "", "name of the target server, as in the config's [[servers]] name, required")
	users := fs.String("users", "", "comma-separated uids of the users to move")
	usersFile := fs.String("users-file", "", "file with one uid per line, or a CSV whose first column is the uid (# comments allowed)")
	policyFlag := fs.String("policy", string(model.PolicyAbandon), `error policy: "abandon" the mailbox at the first item that cannot be read, or "skip" such items`)
	maxBad := fs.Int("max-bad", 0, "with -policy skip: the most items skipped per mailbox before it is abandoned")
	parallel := fs.Int("parallel", 4, "mailboxes moved at once (1-30)")
	keepSource := fs.Bool("keep-source", false, "keep the source content after a verified move (default: remove it)")
	stage := fs.Bool("stage", false, "sync, then wait: copy each mailbox and keep it synced, the directory and source untouched, until movewizard complete (or -complete-at)")
	completeAt := fs.String("complete-at", "", `with -stage: when the mailboxes complete, RFC 3339 ("2026-12-12T22:00:00+01:00") or local "2006-01-02 15:04"; default: wait for movewizard complete`)
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard move -config FILE -target NAME (-users a,b | -users-file FILE) [flags]\n\n"+
			"Moves each user's mailbox to the target server, updates the directory and removes the\n"+
			"source content after verification. Exit 0 when every mailbox moved, 1 when any did not,\n"+
			"2 for bad usage or configuration. Running it again resumes unfinished moves.\n\n"+
			"With -stage it only copies: it returns (exit 0) once every mailbox is synced and waiting to\n"+
			"complete, the directory and the source untouched; movewizard complete (or -complete-at)\n"+
			"then switches them over with a short final pass.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2, err: err}
	}
	if fs.NArg() > 0 {
		return usageErr("move: unexpected argument %q", fs.Arg(0))
	}
	if *configPath == "" {
		return usageErr("move: -config is required")
	}
	if *target == "" {
		return usageErr("move: -target is required")
	}
	policy := model.Policy(*policyFlag)
	if policy != model.PolicyAbandon && policy != model.PolicySkip {
		return usageErr("move: -policy must be abandon or skip, not %q", policy)
	}
	if *maxBad < 0 {
		return usageErr("move: -max-bad must be 0 or more, not %d", *maxBad)
	}
	if *maxBad > 0 && policy != model.PolicySkip {
		return usageErr("move: -max-bad needs -policy skip")
	}
	if *parallel < 1 || *parallel > 30 {
		return usageErr("move: -parallel must be between 1 and 30, not %d", *parallel)
	}
	var completeTime time.Time
	if *completeAt != "" {
		if !*stage {
			return usageErr("move: -complete-at needs -stage")
		}
		t, err := parseCompleteAt(*completeAt, time.Now())
		if err != nil {
			return usageErr("move: -complete-at: %v", err)
		}
		completeTime = t
	}
	uids, err := userList(*users, *usersFile)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("move: %w", err)}
	}
	env, err := openEnv(ctx, *configPath, *verbose, stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	env.crash = crashHook(os.Getenv(crashEnv))
	if _, ok := env.cfg.Server(*target); !ok {
		return usageErr("move: -target %q is not a server in %s (servers: %s)", *target, *configPath, serverNames(env.cfg))
	}
	var jobs []int64
	var fresh []string
	for _, uid := range uids {
		m, ok, err := env.db.UnfinishedMoveForUser(ctx, uid)
		if err != nil {
			return err
		}
		if !ok {
			fresh = append(fresh, uid)
			continue
		}
		if m.Target != *target {
			return &exitError{code: 1, err: fmt.Errorf("move: %q has an unfinished move to %s in job %d; resume or cancel that first", uid, m.Target, m.JobID)}
		}
		j, err := env.db.Job(ctx, m.JobID)
		if err != nil {
			return err
		}
		if j.Stage && !*stage {
			return &exitError{code: 1, err: fmt.Errorf("move: %q has a staged move in job %d (%s); complete it with movewizard complete -move %d, or cancel it first",
				uid, m.JobID, m.State.Label(), m.ID)}
		}
		if !j.Stage && *stage {
			return &exitError{code: 1, err: fmt.Errorf("move: %q has an unfinished move in job %d that is not staged; resume or cancel that first", uid, m.JobID)}
		}
		fmt.Fprintf(stdout, "%s: resuming unfinished move (job %d, %s, phase %s)\n", uid, m.JobID, m.State.Label(), orDash(m.Phase))
		jobs = appendUnique(jobs, m.JobID)
	}
	if len(fresh) > 0 {
		job, err := env.db.CreateJob(ctx, model.Job{CreatedBy: osUser(), Target: *target, Policy: policy,
			MaxBad: *maxBad, Parallel: *parallel, KeepSource: *keepSource, Stage: *stage, CompleteAt: completeTime}, fresh)
		if err != nil {
			return fmt.Errorf("move: %w", err)
		}
		fmt.Fprintf(stdout, "job %d: %d mailboxes to %s, policy %s%s\n", job.ID, len(fresh), *target, policy, stageNote(job))
		jobs = append(jobs, job.ID)
	}
	if *stage {
		return env.runJobs(ctx, jobs, stdout, movedOrWaiting("not synced"))
	}
	return env.runJobs(ctx, jobs, stdout, movedOrWaiting("not moved"))
}

func cmdResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (TOML), required")
	verbose := fs.Bool("v", false, "log every step to stderr")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: movewizard resume -config FILE\n\nResumes every unfinished job in the database, e.g. after a crash.\n\n")
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
	moves, err := env.db.UnfinishedMoves(ctx)
	if err != nil {
		return err
	}
	var jobs []int64
	for _, m := range moves {
		jobs = appendUnique(jobs, m.JobID)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(stdout, "nothing to resume")
		return nil
	}
	return env.runJobs(ctx, jobs, stdout, movedOrWaiting("not moved"))
}

// userList reads uids from -users and -users-file, refusing duplicates and
// malformed lines with their line number.
func userList(list, file string) ([]string, error) {
	if (list == "") == (file == "") {
		return nil, errors.New("give exactly one of -users and -users-file")
	}
	var uids []string
	seen := map[string]bool{}
	add := func(where, uid string) error {
		uid = strings.TrimSpace(uid)
		if uid == "" {
			return fmt.Errorf("%s: empty uid", where)
		}
		if strings.ContainsAny(uid, " \t,;") {
			return fmt.Errorf("%s: %q is not a uid (contains a separator)", where, uid)
		}
		if !seen[uid] {
			seen[uid] = true
			uids = append(uids, uid)
		}
		return nil
	}
	if list != "" {
		for i, u := range strings.Split(list, ",") {
			if err := add(fmt.Sprintf("-users item %d", i+1), u); err != nil {
				return nil, err
			}
		}
		return uids, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.Comment, r.FieldsPerRecord, r.TrimLeadingSpace = '#', -1, true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
			continue
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "uid") {
			continue // a header row
		}
		if err := add(fmt.Sprintf("%s line %d", file, line), rec[0]); err != nil {
			return nil, err
		}
	}
	if len(uids) == 0 {
		return nil, fmt.Errorf("%s: no users", file)
	}
	return uids, nil
}

// stageNote describes a staged job's completion for the job line.
func stageNote(j model.Job) string {
	switch {
	case !j.Stage:
		return ""
	case j.CompleteAt.IsZero():
		return ", staged: sync, then wait for movewizard complete"
	}
	return ", staged: sync, then complete at " + format.Time(j.CompleteAt)
}

// parseCompleteAt reads -complete-at: RFC 3339, or "2006-01-02 15:04" in
// local time. A time that has passed is refused: the mailboxes would
// complete as soon as they are synced, which -complete-at is not for.
func parseCompleteAt(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02 15:04", s, time.Local)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time like \"2026-12-12 22:00\" (local) or \"2026-12-12T22:00:00+01:00\"", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%q has passed; leave -complete-at out and run movewizard complete when the mailboxes should switch", s)
	}
	return t, nil
}

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

func serverNames(cfg *config.Config) string {
	var names []string
	for _, s := range cfg.Servers {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

func appendUnique(ids []int64, id int64) []int64 {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

func orDash[S ~string](s S) string {
	if s == "" {
		return "-"
	}
	return string(s)
}
