package handlers

import (
	"errors"
	"fmt"

	"mime"
	"net/http"

	"github.com/movewizard/movewizard/web"
	"github.com/movewizard/movewizard/web/format"
)

// Request body limits. A form of this UI is a few fields; only the wizard's
// user step takes a file (a CSV of uids, 5,000 lines at most).
const (
	formLimit   = 64 << 10 // every POST
	uploadLimit = 8 << 20  // POST /wizard/users (CSV import)
	// formMemory is how much of a multipart form is held in memory; larger
	// file parts go to temporary files, which limitBodies removes.
	formMemory = 1 << 20
)

// limitBodies bounds every request body (http.MaxBytesReader) and parses
// forms here, on the request net/http handed in, so that the multipart temp
// files are removed after the handler whatever it does: net/http removes
// them only for the request it parsed, and the session middleware replaces
// the request (r.WithContext), whose copies share this parsed form.
func (s *Server) limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 0)
			next.ServeHTTP(w, r)
			return
		}
		limit := int64(formLimit)
		if r.URL.Path == "/wizard/users" {
			limit = uploadLimit
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		var err error
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			err = r.ParseMultipartForm(formMemory)
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				s.renderStatus(w, r, http.StatusRequestEntityTooLarge,
					"The form is larger than this page accepts (%s at most).", format.Bytes(limit))
				return
			}
			s.renderStatus(w, r, http.StatusBadRequest, "The form could not be read: %v.", err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// renderStatus answers with an error page that says what went wrong.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, format string, args ...any) {
	s.render(w, r, status, web.ErrorPage(s.page(r, http.StatusText(status), ""), status, fmt.Sprintf(format, args...)))
}
