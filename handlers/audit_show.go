package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/web"
)

// auditPageSize is how many audit entries one page shows.
const auditPageSize = 100

// auditPage shows the audit log, newest first, a page at a time
// (GET /audit?before=<id>). Only admins reach it.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	var before int64
	if b := r.URL.Query().Get("before"); b != "" {
		var err error
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before <= 0 {
			s.renderError(w, r, invalidf("The page of the audit log must be a positive number."))
			return
		}
	}
	// One more than shown tells whether an older page exists.
	entries, err := s.DB.AuditBefore(r.Context(), before, auditPageSize+1)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := web.AuditView{Paged: before > 0}
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		v.Older = "/audit?before=" + strconv.FormatInt(entries[len(entries)-1].ID, 10)
	}
	uids := map[int64]string{}
	for _, a := range entries {
		row := web.AuditRow{ID: a.ID, At: a.At, Actor: a.Actor, Action: a.Action,
			JobID: a.JobID, MoveID: a.MoveID, Detail: a.Detail}
		if a.MoveID > 0 {
			uid, ok := uids[a.MoveID]
			if !ok {
				m, err := s.DB.Move(r.Context(), a.MoveID)
				if err != nil && !errors.Is(err, db.ErrNotFound) {
					s.renderError(w, r, err)
					return
				}
				uid, uids[a.MoveID] = m.UID, m.UID
			}
			row.Mailbox = uid
		}
		v.Entries = append(v.Entries, row)
	}
	s.render(w, r, http.StatusOK, web.AuditPage(s.page(r, "Audit", "audit"), v))
}
