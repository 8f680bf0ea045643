package handlers

import (
	"cmp"
	"context"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"net/http"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/migrate/progress"
	"github.com/movewizard/movewizard/web"
)

// jobPageRows is how many moves one page of the job page shows: enough to
// scan, few enough that a job of 50,000 mailboxes renders and updates as
// fast as one of 50.
const jobPageRows = 50

// jobSearchMax bounds the search text (uids are short).
const jobSearchMax = 64

// jobSorts are the orders of the job page; "" is creation order.
var jobSorts = []string{"", "mailbox", "state", "progress", "rate", "errors"}

// jobPage shows a job: its totals from one aggregate query, and one page of
// its moves as the query string selects them (?state=&q=&sort=&dir=&page=).
// Helpdesk staff see the same page without the buttons.
func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	q, err := parseJobQuery(r.URL.Query())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	job, err := s.DB.Job(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	totals, err := s.DB.JobTotals(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := web.JobView{Job: job, Now: s.now(), Totals: s.jobTotalsView(id, totals)}
	if job.NotifyEmails != "" || job.NotifyWebhook {
		c, err := s.DB.JobDeliveryCounts(r.Context(), id)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Notified = web.NotifyCounts{Sent: c.Sent, Pending: c.Pending, Failed: c.Failed, LastError: c.LastError}
	}
	moves, matched, err := s.jobPageMoves(r.Context(), id, &q)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v.Query, v.Matched = q, matched
	v.Pages = max(1, (matched+jobPageRows-1)/jobPageRows)
	v.Offset = (q.Page - 1) * jobPageRows
	for _, st := range []model.MoveState{model.MoveFailed, model.MoveAbandoned, model.MoveCancelled} {
		v.Retryable += totals.ByState[st]
	}
	ids := make([]int64, len(moves))
	for i, m := range moves {
		ids[i] = m.ID
	}
	rates := s.latest(ids)
	ids64 := make([]string, len(ids))
	for i, m := range moves {
		row := web.MoveRow{Move: m}
		if p, ok := rates[m.ID]; ok && p.State == model.MoveRunning {
			row.Rate, row.ETA = p.Rate, p.ETA
		}
		v.Moves = append(v.Moves, row)
		ids64[i] = strconv.FormatInt(m.ID, 10)
	}
	v.LiveIDs = strings.Join(ids64, ",")
	p := s.page(r, "Job #"+strconv.FormatInt(id, 10), "jobs")
	v.CanAct = p.IsAdmin()
	p.Scripts = []string{s.Assets.URL("live.js")}
	s.render(w, r, http.StatusOK, web.JobPage(p, v))
}

// parseJobQuery reads the job page's query string; a bad value is the
// person's mistake, named in the message.
func parseJobQuery(v url.Values) (web.JobQuery, error) {
	q := web.JobQuery{State: model.MoveState(v.Get("state")), Q: strings.TrimSpace(v.Get("q")), Sort: v.Get("sort"), Page: 1}
	if q.State != "" && !slices.Contains(moveStates, q.State) {
		return q, invalidf("%s is not a mailbox state; the states are %s.", echo(string(q.State)), moveStateNames())
	}
	if utf8.RuneCountInString(q.Q) > jobSearchMax || !utf8.ValidString(q.Q) {
		return q, invalidf("The search is longer than %d characters.", jobSearchMax)
	}
	if !slices.Contains(jobSorts, q.Sort) {
		return q, invalidf("%s is not an order of the mailboxes; they sort by mailbox, state, progress, rate or errors.", echo(q.Sort))
	}
	switch v.Get("dir") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, invalidf("%s is not a sort direction; it is asc or desc.", echo(v.Get("dir")))
	}
	if raw := v.Get("page"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			return q, invalidf("%s is not a page number.", echo(raw))
		}
		q.Page = n
	}
	return q, nil
}

func moveStateNames() string {
	names := make([]string, len(moveStates))
	for i, st := range moveStates {
		names[i] = string(st)
	}
	return strings.Join(names, ", ")
}

// jobPageMoves returns the page of moves q selects and how many match; a
// page past the last shows the last (q.Page is set to it).
func (s *Server) jobPageMoves(ctx context.Context, jobID int64, q *web.JobQuery) ([]model.Move, int, error) {
	for {
		moves, matched, err := s.jobPageAt(ctx, jobID, *q, (q.Page-1)*jobPageRows)
		if err != nil || len(moves) > 0 || q.Page == 1 {
			return moves, matched, err
		}
		last := max(1, (matched+jobPageRows-1)/jobPageRows)
		if last >= q.Page {
			return moves, matched, nil
		}
		q.Page = last
	}
}

func (s *Server) jobPageAt(ctx context.Context, jobID int64, q web.JobQuery, offset int) ([]model.Move, int, error) {
	base := db.MovesQuery{State: q.State, Search: q.Q, Desc: q.Desc, Offset: offset, Limit: jobPageRows}
	if q.Sort != "rate" {
		base.Sort = db.MoveSort(q.Sort)
		return s.DB.MovesPage(ctx, jobID, base)
	}
	return s.jobPageByRate(ctx, jobID, base)
}

// jobPageByRate orders by the broker's rates, which only running moves
// have and which SQL cannot see. The running moves are few (the runner's
// caps, 30 per job at most), so they are loaded and sorted in memory; every
// other move has no rate and follows (descending) or precedes (ascending)
// them in creation order, paged by SQL.
func (s *Server) jobPageByRate(ctx context.Context, jobID int64, q db.MovesQuery) ([]model.Move, int, error) {
	var head []model.Move
	if q.State == "" || q.State == model.MoveRunning {
		hq := db.MovesQuery{State: model.MoveRunning, Search: q.Search, Limit: jobRateSortMax}
		var n int
		var err error
		if head, n, err = s.DB.MovesPage(ctx, jobID, hq); err != nil {
			return nil, 0, err
		}
		if n > jobRateSortMax {
			return nil, 0, invalidf("%d mailboxes are running, too many to order by rate (at most %d); order by progress instead.", n, jobRateSortMax)
		}
	}
	ids := make([]int64, len(head))
	for i, m := range head {
		ids[i] = m.ID
	}
	rates := s.latest(ids)
	// head is in creation order; a stable sort keeps it among equal rates.
	slices.SortStableFunc(head, func(a, b model.Move) int {
		if q.Desc {
			return cmp.Compare(rates[b.ID].Rate, rates[a.ID].Rate)
		}
		return cmp.Compare(rates[a.ID].Rate, rates[b.ID].Rate)
	})
	tq := db.MovesQuery{State: q.State, NotState: model.MoveRunning, Search: q.Search}
	if q.State == model.MoveRunning {
		return pageOf(head, q.Offset, q.Limit), len(head), nil
	}
	// The count of the rest comes with its first page.
	var out []model.Move
	if q.Desc {
		out = pageOf(head, q.Offset, q.Limit)
		tq.Offset, tq.Limit = max(q.Offset-len(head), 0), q.Limit-len(out)
		if tq.Limit == 0 {
			tq.Limit = 1 // only for the count; the row is not used
		}
		tail, n, err := s.DB.MovesPage(ctx, jobID, tq)
		if err != nil {
			return nil, 0, err
		}
		if len(out) < q.Limit {
			out = append(out, tail...)
		}
		return out, len(head) + n, nil
	}
	tq.Offset, tq.Limit = q.Offset, q.Limit
	tail, n, err := s.DB.MovesPage(ctx, jobID, tq)
	if err != nil {
		return nil, 0, err
	}
	out = append(out, tail...)
	if rest := q.Limit - len(out); rest > 0 {
		out = append(out, pageOf(head, max(q.Offset-n, 0), rest)...)
	}
	return out, len(head) + n, nil
}

// jobRateSortMax bounds the running moves sorted in memory by rate.
const jobRateSortMax = 1000

// pageOf is ms[offset:offset+limit], clipped.
func pageOf(ms []model.Move, offset, limit int) []model.Move {
	if offset >= len(ms) {
		return nil
	}
	return ms[offset:min(offset+limit, len(ms))]
}

// latest is the broker's last published state of the given moves (none
// without a broker). It reads memory only.
func (s *Server) latest(ids []int64) map[int64]progress.Move {
	if s.Broker == nil {
		return map[int64]progress.Move{}
	}
	return s.Broker.Latest(ids)
}

// jobTotalsView is the job's totals as the page shows them, with the job's
// throughput and ETA.
func (s *Server) jobTotalsView(jobID int64, t db.JobTotals) web.JobTotals {
	v := web.JobTotals{Mailboxes: t.Mailboxes, ByState: orderedCounts(t.ByState), MsgsDone: t.MsgsDone,
		MsgsTotal: t.MsgsTotal, BytesDone: t.BytesDone, BytesTotal: t.BytesTotal, Skipped: t.Skipped}
	if s.Broker != nil {
		for _, p := range s.Broker.Running(jobID) {
			v.Rate += p.Rate
		}
	}
	v.ETA = jobETA(t, v.Rate)
	return v
}

// jobETA is the job's remaining bytes divided by its throughput (the sum of
// its running moves' rates); 0 when either is unknown. A move not started
// yet has no size until its hierarchy phase: it counts as the average size
// of the moves that have one, so that the ETA of a job just begun is not
// that of its first few mailboxes.
func jobETA(t db.JobTotals, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	left := float64(t.BytesLeft)
	if sized := t.Mailboxes - t.Unsized; t.Unsized > 0 && sized > 0 {
		left += float64(t.Unsized) * float64(t.BytesTotal) / float64(sized)
	}
	if left <= 0 {
		return 0
	}
	secs := left / rate
	if secs >= float64(math.MaxInt64)/float64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(secs * float64(time.Second))
}
