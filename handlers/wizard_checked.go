package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/web"
)

// wizardChecked is what the last complete preflight found, kept in the
// wizard state: the start gives the job its totals from the measured sizes
// (so a queued or scheduled job shows them from the start) and refuses a
// selection with problems, which "Remove the users with problems" drops.
// It holds for the selection and target it was made for (Key); any change
// of either makes it stale.
type wizardChecked struct {
	Key   string                 `json:"key"`
	Users map[string]checkedUser `json:"users"`
}

// checkedUser is one user's preflight result, as much as the start needs;
// a mailbox already on the target has no size to move.
type checkedUser struct {
	Messages int64 `json:"m,omitempty"`
	Bytes    int64 `json:"b,omitempty"`
	Measured bool  `json:"measured,omitempty"`
	Problem  bool  `json:"problem,omitempty"`
}

// checkKey names the selection and target a preflight was made for.
func (st wizardState) checkKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "%q\n", st.Target)
	for _, u := range st.Users {
		fmt.Fprintf(h, "%q\n", strings.ToLower(u.UID))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checked returns the last preflight if it was made for today's selection
// and target.
func (st wizardState) checked() (*wizardChecked, bool) {
	if st.Checked == nil || st.Checked.Key != st.checkKey() {
		return nil, false
	}
	return st.Checked, true
}

// newChecked records a complete preflight of st's selection.
func newChecked(st wizardState, rows []web.PreflightRow) *wizardChecked {
	c := &wizardChecked{Key: st.checkKey(), Users: make(map[string]checkedUser, len(rows))}
	for _, r := range rows {
		c.Users[strings.ToLower(r.UID)] = checkedUser{Messages: r.Messages, Bytes: r.Bytes,
			Measured: r.Count != "" && !r.AlreadyThere, Problem: r.Status == "problem"}
	}
	return c
}

// problems lists the selected users the preflight found a problem with,
// in selection order.
func (c *wizardChecked) problems(st wizardState) []string {
	var uids []string
	for _, u := range st.Users {
		if c.Users[strings.ToLower(u.UID)].Problem {
			uids = append(uids, u.UID)
		}
	}
	return uids
}

// estimates are the measured sizes, by uid, for the job's totals.
func (c *wizardChecked) estimates(st wizardState) map[string]db.Estimate {
	out := map[string]db.Estimate{}
	for _, u := range st.Users {
		if cu := c.Users[strings.ToLower(u.UID)]; cu.Measured {
			out[u.UID] = db.Estimate{Messages: cu.Messages, Bytes: cu.Bytes}
		}
	}
	return out
}

// recordPreflight keeps a complete preflight of the selection it was made
// for. The state is read again: another tab may have changed the
// selection while the check ran, and then the result is not kept.
func (s *Server) recordPreflight(r *http.Request, made wizardState, rows []web.PreflightRow) {
	st, err := s.loadWizard(r)
	if err != nil || st.checkKey() != made.checkKey() {
		return
	}
	st.Checked = newChecked(st, rows)
	if err := s.saveWizard(r, st); err != nil {
		s.logger().Error("keep preflight result", "err", err)
	}
}

// wizardRemoveProblems drops the users the last preflight found problems
// with from the selection.
func (s *Server) wizardRemoveProblems(w http.ResponseWriter, r *http.Request) {
	st, err := s.loadWizard(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	c, ok := st.checked()
	if !ok {
		redirectFlash(w, r, "/wizard/summary", "The selection changed since the last preflight; check it again first.")
		return
	}
	uids := c.problems(st)
	if len(uids) == 0 {
		redirectFlash(w, r, "/wizard/summary", "No selected user has a problem.")
		return
	}
	for _, uid := range uids {
		st.remove(uid)
	}
	st.Checked = nil
	if err := s.saveWizard(r, st); err != nil {
		s.renderError(w, r, err)
		return
	}
	msg := fmt.Sprintf("Removed %s with problems: %s.", plural(len(uids), "user", "users"), listUIDs(uids, 10))
	if len(st.Users) == 0 {
		redirectFlash(w, r, "/wizard/users", msg+" No user is left; select users again.")
		return
	}
	redirectFlash(w, r, "/wizard/summary", msg)
}

// listUIDs names up to max uids, then how many more.
func listUIDs(uids []string, max int) string {
	if len(uids) <= max {
		return strings.Join(uids, ", ")
	}
	return strings.Join(uids[:max], ", ") + fmt.Sprintf(" and %d more", len(uids)-max)
}
