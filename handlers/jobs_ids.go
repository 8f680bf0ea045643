package handlers

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
)

// pathID parses the {id} of a job or move URL; anything but a positive
// integer is the person's mistake, not a missing row.
func pathID(r *http.Request, what string) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidf("%q is not a %s number.", raw, what)
	}
	return id, nil
}
