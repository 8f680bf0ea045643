package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/movewizard/movewizard/db"
	"github.com/movewizard/movewizard/handlers"
	"github.com/movewizard/movewizard/migrate/config"
	"github.com/movewizard/movewizard/static"
)

// TestHealthDatabaseDown: /healthz answers 503 when the database does not
// answer, and leaves open_jobs out instead of claiming 0.
func TestHealthDatabaseDown(t *testing.T) {
	store, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "mw.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &handlers.Server{Config: &config.Config{}, DB: store, Assets: static.New()}
	get := func() (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("GET /healthz body %q: %v", rec.Body.String(), err)
		}
		return rec.Code, body
	}
	if code, body := get(); code != http.StatusOK || body["status"] != "ok" || body["open_jobs"] != float64(0) {
		t.Errorf("GET /healthz = %d %v, want 200 with status ok and open_jobs 0", code, body)
	}
	store.Close()
	code, body := get()
	if code != http.StatusServiceUnavailable || body["status"] != "database error" {
		t.Errorf("GET /healthz with the database closed = %d %v, want 503 with status \"database error\"", code, body)
	}
	if n, ok := body["open_jobs"]; ok {
		t.Errorf("GET /healthz with the database closed: open_jobs = %v, want it left out", n)
	}
}
