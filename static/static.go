// Package static holds the CSS and JavaScript of the web UI, embedded in
// the binary and served under content-hashed URLs so that browsers may
// cache them forever.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed files
var files embed.FS

// Assets serves the embedded files under hashed names.
type Assets struct {
	byHashed map[string]string // "style.3f2a1c9e.css" -> "files/style.css"
	byName   map[string]string // "style.css" -> "/static/style.3f2a1c9e.css"
}

// New indexes the embedded files. They are part of the binary, so a file
// that cannot be read is a broken build: New panics rather than serve pages
// whose CSS and JavaScript are missing.
func New() *Assets {
	a := &Assets{byHashed: map[string]string{}, byName: map[string]string{}}
	entries, err := fs.ReadDir(files, "files")
	if err != nil {
		panic(fmt.Sprintf("static: embedded files: %v", err))
	}
	for _, e := range entries {
		name := e.Name()
		data, err := fs.ReadFile(files, "files/"+name)
		if err != nil {
			panic(fmt.Sprintf("static: embedded file %s: %v", name, err))
		}
		sum := sha256.Sum256(data)
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		a.byHashed[hashed] = "files/" + name
		a.byName[name] = "/static/" + hashed
	}
	return a
}

// URL returns the hashed URL of a file, e.g. URL("style.css").
func (a *Assets) URL(name string) string {
	if u, ok := a.byName[name]; ok {
		return u
	}
	return "/static/missing/" + name
}

// ServeHTTP serves /static/{hashed name} with a year-long cache lifetime.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	file, ok := a.byHashed[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(files, file)
	if err != nil {
		// New read this very file; failing now is not a missing file.
		http.Error(w, "cannot read "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, path.Base(file), time.Time{}, bytes.NewReader(data))
}
