package handlers

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/movewizard/movewizard/migrate/model"
	"github.com/movewizard/movewizard/web"
)

// moveStates orders mailbox counts the same way on every page.
var moveStates = []model.MoveState{model.MoveQueued, model.MoveRunning, model.MoveSynced, model.MoveDone, model.MoveAlreadyThere,
	model.MoveFailed, model.MoveAbandoned, model.MoveCancelled}

// jobsList shows every job, or those in one state, newest first.
func (s *Server) jobsList(w http.ResponseWriter, r *http.Request) {
	state := model.JobState(r.URL.Query().Get("state"))
	if state != "" && !slices.Contains(model.JobStates, state) {
		s.renderError(w, r, invalidf("There is no job state %s; use %s.", echo(string(state)), jobStateNames()))
		return
	}
	all, err := s.DB.Jobs(r.Context(), "")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	counts, err := s.DB.MoveStateCounts(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	perState := map[model.JobState]int{}
	v := web.JobsList{Now: s.now()}
	for _, j := range all {
		perState[j.State]++
		if state == "" || j.State == state {
			v.Jobs = append(v.Jobs, web.JobSummary{Job: j, Outcomes: orderedCounts(counts[j.ID])})
		}
	}
	v.Filters = append(v.Filters, web.JobFilter{Label: "all", Count: len(all), Active: state == ""})
	for _, st := range model.JobStates {
		v.Filters = append(v.Filters, web.JobFilter{State: st, Label: st.Label(), Count: perState[st], Active: state == st})
	}
	s.render(w, r, http.StatusOK, web.JobsListPage(s.page(r, "Jobs", "jobs"), v))
}

// orderedCounts lists the non-zero counts in moveStates order, then any
// state this version does not know, so that none is hidden.
func orderedCounts(m map[model.MoveState]int) []web.StateCount {
	var out []web.StateCount
	for _, st := range moveStates {
		if m[st] > 0 {
			out = append(out, web.StateCount{State: st, Count: m[st]})
		}
	}
	for _, st := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(moveStates, st) && m[st] > 0 {
			out = append(out, web.StateCount{State: st, Count: m[st]})
		}
	}
	return out
}

// jobStateNames lists the job states a filter takes: "queued, running, …
// or cancelled".
func jobStateNames() string {
	names := make([]string, len(model.JobStates))
	for i, st := range model.JobStates {
		names[i] = string(st)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
