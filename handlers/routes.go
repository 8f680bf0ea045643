package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Handler returns every route of the web UI. State-changing requests are
// protected against cross-site requests by net/http's
// CrossOriginProtection (Sec-Fetch-Site and Origin checks), so plain HTML
// forms need no token.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.securityHeaders, s.limitBodies)
	r.Handle("/static/*", s.Assets)
	r.Get("/healthz", s.health)
	r.Group(func(r chi.Router) {
		r.Use(s.withSession)
		r.Get("/signin", s.signInPage)
		r.Post("/signin", s.signIn)
		r.Post("/signout", s.signOut)
		r.Group(func(r chi.Router) {
			r.Use(s.requireSignIn)
			r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/jobs", http.StatusSeeOther) })
			s.readRoutes(r)
			r.Group(func(r chi.Router) {
				r.Use(s.requireAdmin)
				s.adminRoutes(r)
			})
		})
	})
	cop := http.NewCrossOriginProtection()
	return cop.Handler(r)
}

// readRoutes are for admins and helpdesk.
func (s *Server) readRoutes(r chi.Router) {
	r.Get("/jobs", s.jobsList)
	r.Get("/jobs/{id}", s.jobPage)
	r.Get("/jobs/{id}/events", s.jobEvents)
	r.Get("/jobs/{id}/report.csv", s.jobReportCSV)
	r.Get("/jobs/{id}/report.json", s.jobReportJSON)
	r.Get("/moves/{id}", s.movePage)
	r.Get("/users", s.usersPage)
	r.Get("/users/{uid}", s.userPage)
	r.Get("/servers", s.serversPage)
}

// adminRoutes change things, or show the audit log.
func (s *Server) adminRoutes(r chi.Router) {
	r.Get("/audit", s.auditPage)
	r.Get("/jobs/{id}/cancel", s.jobCancelConfirm)
	r.Post("/jobs/{id}/cancel", s.jobCancel)
	r.Post("/jobs/{id}/retry", s.jobRetryAll)
	r.Get("/jobs/{id}/complete", s.jobCompleteConfirm)
	r.Post("/jobs/{id}/complete", s.jobComplete)
	r.Post("/jobs/{id}/start-now", s.jobStartNow)
	r.Post("/jobs/{id}/moves", s.jobMovesAction)
	r.Get("/moves/{id}/cancel", s.moveCancelConfirm)
	r.Post("/moves/{id}/cancel", s.moveCancel)
	r.Post("/moves/{id}/retry", s.moveRetry)
	r.Get("/moves/{id}/complete", s.moveCompleteConfirm)
	r.Post("/moves/{id}/complete", s.moveComplete)

	r.Get("/wizard/users", s.wizardUsers)
	r.Post("/wizard/users", s.wizardUsersSave)
	r.Get("/wizard/users/rejected.csv", s.wizardRejectedCSV)
	r.Get("/wizard/target", s.wizardTarget)
	r.Post("/wizard/target", s.wizardTargetSave)
	r.Get("/wizard/policy", s.wizardPolicy)
	r.Post("/wizard/policy", s.wizardPolicySave)
	r.Get("/wizard/schedule", s.wizardSchedule)
	r.Post("/wizard/schedule", s.wizardScheduleSave)
	r.Get("/wizard/summary", s.wizardSummary)
	r.Get("/wizard/preflight/events", s.wizardPreflightEvents)
	r.Post("/wizard/start", s.wizardStart)
	r.Post("/wizard/summary/remove-problems", s.wizardRemoveProblems)
	r.Post("/wizard/reset", s.wizardReset)
}

func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
		next.ServeHTTP(w, r)
	})
}
