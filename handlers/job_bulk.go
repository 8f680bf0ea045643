package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// The bulk actions act on many mailboxes of a job by calling the single
// actions once per mailbox (db.RetryMove, db.RequestCancel), so each keeps
// its rules, its audit entry and its refusals; they report per mailbox what
// happened. Each first asks on a page of its own, without script: the form
// posts again with confirm=yes.

// bulkMaxSelected bounds the mailboxes of one selection: a page shows
// jobPageRows, so this leaves room and bounds the work of one request.
const bulkMaxSelected = 200

// bulkListMax is how many mailboxes a confirmation lists by name.
const bulkListMax = 30

// bulkNamesMax is how many uids one line of the outcome names.
const bulkNamesMax = 5

// jobRetryAll queues every failed, abandoned and cancelled mailbox of the
// job again, optionally switching the job to skip bad items first.
func (s *Server) jobRetryAll(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	policy, maxBad, err := parseRetryPolicy(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	back := bulkBack(id, r.PostFormValue("back"))
	moves, err := s.DB.RetryableMoves(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(moves) == 0 {
		redirectFlash(w, r, back, fmt.Sprintf("No mailbox of job %d is failed, abandoned or cancelled; nothing to retry.", id))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		c := bulkConfirm(fmt.Sprintf("Retry %s of job #%d?", jobCount(len(moves)), id), moves, back)
		c.Action = fmt.Sprintf("/jobs/%d/retry", id)
		c.Notes = append(c.Notes, retryNote(moves))
		if policy != "" {
			c.Notes = append(c.Notes, policyNote(job, maxBad))
			c.Fields = append(c.Fields, web.HiddenField{Name: "policy", Value: string(policy)},
				web.HiddenField{Name: "max_bad", Value: strconv.Itoa(maxBad)})
		}
		c.Fields = append(c.Fields, web.HiddenField{Name: "back", Value: r.PostFormValue("back")})
		s.render(w, r, http.StatusOK, web.JobBulkConfirmPage(s.page(r, "Retry mailboxes", "jobs"), c))
		return
	}
	var note string
	if policy != "" {
		if err := s.DB.SetJobPolicy(r.Context(), id, policy, maxBad, actor(r)); err != nil {
			s.renderError(w, r, err)
			return
		}
		note = fmt.Sprintf(" The job now skips up to %d bad items per mailbox.", maxBad)
	}
	// The moves are read again at confirmation: "all" means all now.
	var out bulkOutcome
	for _, m := range moves {
		_, err := s.DB.RetryMove(r.Context(), m.ID, actor(r))
		if !out.add(m, err, retryRefusal) {
			s.renderError(w, r, err)
			return
		}
	}
	s.Runner.Wake()
	redirectFlash(w, r, back, out.summary("Retried")+note)
}

// jobMovesAction cancels, retries or completes the mailboxes selected on
// the job page (move=ID, repeated; action=cancel|retry|complete).
func (s *Server) jobMovesAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	action := r.PostFormValue("action")
	if action != "cancel" && action != "retry" && action != "complete" {
		s.renderError(w, r, invalidf("%s is not an action on mailboxes; it is cancel, retry or complete.", echo(action)))
		return
	}
	ids, err := parseSelected(r.PostForm["move"])
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	back := bulkBack(id, r.PostFormValue("back"))
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if action == "complete" && !job.Stage {
		s.render(w, r, http.StatusConflict, web.CompleteRefusedPage(s.page(r, "Not possible now", "jobs"), jobCompleteRefusal(job), back))
		return
	}
	moves, err := s.DB.MovesByID(r.Context(), id, ids)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(moves) < len(ids) {
		s.renderError(w, r, invalidf("%d of the selected mailboxes are not in job %d.", len(ids)-len(moves), id))
		return
	}
	verb := map[string]string{"cancel": "Cancel", "retry": "Retry", "complete": "Complete"}[action]
	if r.PostFormValue("confirm") != "yes" {
		c := bulkConfirm(fmt.Sprintf("%s %s?", verb, jobCount(len(moves))), moves, back)
		c.Action = fmt.Sprintf("/jobs/%d/moves", id)
		switch action {
		case "complete":
			c.Notes = append(c.Notes, completeNote, "Mailboxes still syncing complete as soon as they are synced; finished ones, and those being cancelled, are left as they are.")
		case "cancel":
			c.Notes = append(c.Notes, "Queued mailboxes will not move; running ones stop shortly, their partial copies are removed, and they stay on their source. Mailboxes past their cut-over (the directory already names the target) cannot be cancelled and finish their move.")
		default:
			c.Notes = append(c.Notes, retryNote(moves))
		}
		c.Fields = append(c.Fields, web.HiddenField{Name: "action", Value: action},
			web.HiddenField{Name: "back", Value: r.PostFormValue("back")})
		for _, m := range moves {
			c.Fields = append(c.Fields, web.HiddenField{Name: "move", Value: strconv.FormatInt(m.ID, 10)})
		}
		s.render(w, r, http.StatusOK, web.JobBulkConfirmPage(s.page(r, verb+" mailboxes", "jobs"), c))
		return
	}
	var out bulkOutcome
	for _, m := range moves {
		var err error
		refusal := retryRefusal
		switch action {
		case "complete":
			_, err = s.DB.RequestComplete(r.Context(), m.ID, actor(r))
			refusal = func(m model.Move, err error) string {
				now, rerr := s.DB.Move(r.Context(), m.ID)
				if rerr != nil {
					now = m
				}
				return completeRefusal(job, now, err)
			}
		case "cancel":
			var now model.Move
			if now, err = s.DB.CancelMove(r.Context(), m.ID, actor(r)); err == nil && now.State == model.MoveCancelled {
				s.publish(now) // ended without the runner: tell the live pages now
			}
			refusal = func(m model.Move, err error) string {
				now, rerr := s.DB.Move(r.Context(), m.ID)
				if rerr != nil {
					now = m
				}
				return cancelRefusal(now, err)
			}
		default:
			_, err = s.DB.RetryMove(r.Context(), m.ID, actor(r))
		}
		if !out.add(m, err, refusal) {
			s.renderError(w, r, err)
			return
		}
	}
	s.Runner.Wake()
	done := map[string]string{"cancel": "Cancelling", "retry": "Retried", "complete": "Completing"}[action]
	redirectFlash(w, r, back, out.summary(done))
}

// parseRetryPolicy reads the optional policy change of "Retry all":
// nothing (keep the job's) or policy=skip with max_bad.
func parseRetryPolicy(r *http.Request) (model.Policy, int, error) {
	switch p := r.PostFormValue("policy"); p {
	case "":
		return "", 0, nil
	case string(model.PolicySkip):
		raw := strings.TrimSpace(r.PostFormValue("max_bad"))
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > wizardMaxBad {
			return "", 0, invalidf("%s is not a number of bad items from 0 to %d.", echo(raw), wizardMaxBad)
		}
		return model.PolicySkip, n, nil
	default:
		return "", 0, invalidf("%s is not a policy for the retried mailboxes; leave it out to keep the job's, or choose skip.", echo(p))
	}
}

// parseSelected reads the selected move IDs: at least one, at most
// bulkMaxSelected, each a move number; repeats count once.
func parseSelected(raw []string) ([]int64, error) {
	if len(raw) == 0 {
		return nil, invalidf("Select at least one mailbox.")
	}
	if len(raw) > bulkMaxSelected {
		return nil, invalidf("Select at most %d mailboxes at once; %d were selected.", bulkMaxSelected, len(raw))
	}
	var ids []int64
	for _, v := range raw {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, invalidf("%s is not a move number.", echo(v))
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// bulkBack is the job page the person came from: the job's page with the
// query string the form carried, if it is one the page accepts.
func bulkBack(jobID int64, raw string) string {
	if v, err := url.ParseQuery(raw); err == nil {
		if q, err := parseJobQuery(v); err == nil {
			return q.Href(jobID)
		}
	}
	return web.JobQuery{}.Href(jobID)
}

// bulkConfirm lists the mailboxes the action applies to.
func bulkConfirm(question string, moves []model.Move, back string) web.BulkConfirm {
	c := web.BulkConfirm{Question: question, Back: back}
	for i, m := range moves {
		if i == bulkListMax {
			c.More = len(moves) - i
			break
		}
		c.Items = append(c.Items, m.UID+" ("+m.State.Label()+")")
	}
	return c
}

// retryNote says what a retry does with each kind of move.
func retryNote(moves []model.Move) string {
	counts := map[model.MoveState]int{}
	for _, m := range moves {
		counts[m.State]++
	}
	var parts []string
	for _, c := range orderedCounts(counts) {
		parts = append(parts, fmt.Sprintf("%d %s", c.Count, c.State))
	}
	return "Of these, " + strings.Join(parts, ", ") + ". A failed mailbox resumes where it stopped; an abandoned or cancelled one was cleaned up and starts over. Only failed, abandoned or cancelled mailboxes are retried; a user in another unfinished job is left alone."
}

// policyNote says what switching the job to skip changes: the runner reads
// the job's policy when it starts a move, so it applies to every move of
// the job started from now on, the retried ones and those still queued.
func policyNote(job model.Job, maxBad int) string {
	from := "abandons a mailbox at its first bad item"
	if job.Policy == model.PolicySkip {
		from = fmt.Sprintf("skips up to %d bad items per mailbox", job.MaxBad)
	}
	return fmt.Sprintf("The job's error policy changes: it %s; from now on it skips up to %d bad items per mailbox. This applies to every mailbox of the job that starts from now on, also those still queued; running ones keep the policy they started with.", from, maxBad)
}

// jobCount is "1 mailbox", "12 mailboxes".
func jobCount(n int) string {
	if n == 1 {
		return "1 mailbox"
	}
	return strconv.Itoa(n) + " mailboxes"
}

// bulkOutcome tallies what happened to each mailbox of a bulk action.
type bulkOutcome struct {
	done    int
	refused map[string][]string // by reason: the uids
	reasons []string            // in the order first seen
}

// add records m's outcome. A refusal (a conflict, a move gone) is an
// answer about that mailbox; any other error is a failure of the action,
// and add reports false.
func (o *bulkOutcome) add(m model.Move, err error, refusal func(model.Move, error) string) bool {
	switch {
	case err == nil:
		o.done++
		return true
	case errors.Is(err, db.ErrConflict), errors.Is(err, db.ErrNotFound):
		why := refusal(m, err)
		if o.refused == nil {
			o.refused = map[string][]string{}
		}
		if _, seen := o.refused[why]; !seen {
			o.reasons = append(o.reasons, why)
		}
		o.refused[why] = append(o.refused[why], m.UID)
		return true
	}
	return false
}

// summary is "Retried 7; 2 were not failed, abandoned or cancelled
// (user03, user05)."
func (o *bulkOutcome) summary(verb string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d", verb, o.done)
	for _, why := range o.reasons {
		uids := o.refused[why]
		names := strings.Join(uids[:min(len(uids), bulkNamesMax)], ", ")
		if len(uids) > bulkNamesMax {
			names += fmt.Sprintf(" and %d more", len(uids)-bulkNamesMax)
		}
		fmt.Fprintf(&b, "; %d %s (%s)", len(uids), why, names)
	}
	b.WriteString(".")
	return b.String()
}

// retryRefusal names why RetryMove refused a mailbox.
func retryRefusal(_ model.Move, err error) string {
	var held *db.HeldError
	switch {
	case errors.As(err, &held):
		return "in another unfinished job"
	case errors.Is(err, db.ErrNotFound):
		return "no longer exist"
	}
	return "were not failed, abandoned or cancelled"
}

// cancelRefusal names why RequestCancel refused a mailbox, from the
// move's state as read after the refusal. Which moves may be cancelled is
// RequestCancel's rule; this only describes the refused one.
func cancelRefusal(m model.Move, err error) string {
	switch {
	case errors.Is(err, db.ErrNotFound):
		return "no longer exist"
	case !m.Unfinished():
		return "had already finished"
	case errors.Is(err, db.ErrPastCutover), m.Phase.PastCutover():
		return "are past their cut-over (the directory already names the target) and will finish their move"
	}
	return "could not be cancelled now"
}
