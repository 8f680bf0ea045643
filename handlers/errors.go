package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/migrate/directory"
	"github.com/movewizard/movewizard/web"
)

// Error kinds, mapped to a status and a sentence the user may see.
var (
	errInvalid   = errors.New("invalid request")
	errForbidden = errors.New("forbidden")
)

// userError is an error whose message is meant for the person.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.kind }

func invalidf(format string, args ...any) error {
	return &userError{kind: errInvalid, msg: fmt.Sprintf(format, args...)}
}

// notFoundf says what is missing: "There is no user bob in the directory."
func notFoundf(format string, args ...any) error {
	return &userError{kind: db.ErrNotFound, msg: fmt.Sprintf(format, args...)}
}

// pathID parses the {id} of a job or move URL; anything but a positive
// integer is the person's mistake, not a missing row.
func pathID(r *http.Request, what string) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidf("%s is not a %s number.", echo(raw), what)
	}
	return id, nil
}

// renderError is the one error path: it maps the kind to a status, logs
// internal errors, and shows a plain sentence, never an internal error's
// text.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := http.StatusInternalServerError, "Something went wrong",
		"The server could not do this. The error has been logged; please try again or tell an administrator."
	var ue *userError
	switch {
	case errors.As(err, &ue) && errors.Is(err, errForbidden):
		status, title, msg = http.StatusForbidden, "Not allowed", ue.msg
	case errors.As(err, &ue) && errors.Is(err, db.ErrNotFound):
		status, title, msg = http.StatusNotFound, "Not found", ue.msg
	case errors.As(err, &ue):
		status, title, msg = http.StatusBadRequest, "Invalid request", ue.msg
	case errors.Is(err, errForbidden):
		status, title, msg = http.StatusForbidden, "Not allowed", "Your role may not do this."
	case errors.Is(err, db.ErrNotFound), errors.Is(err, directory.ErrNotFound):
		status, title, msg = http.StatusNotFound, "Not found", "There is no such page or item."
	case errors.Is(err, db.ErrConflict), errors.Is(err, directory.ErrConflict):
		status, title, msg = http.StatusConflict, "Not possible now", conflictMessage(err)
	default:
		s.logger().Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.render(w, r, status, web.ErrorPage(s.page(r, title, ""), status, msg))
}

// conflictMessage explains a conflict; the db package's conflict errors
// name only ids, states and uids, which the person may see.
func conflictMessage(err error) string {
	var held *db.HeldError
	if errors.As(err, &held) {
		return held.Error() + "."
	}
	return "This is not possible in the current state: " + err.Error() + "."
}
