// Package web holds the templ components of the UI and their typed view
// models. Generated *_templ.go files are committed; regenerate them with
// `go tool templ generate`.
package web

import "github.com/movewizard/movewizard/migrate/model"

// Page is what every page's frame needs.
type Page struct {
	Title    string
	Nav      string // "jobs", "wizard", "users", "servers", "audit"
	UserName string // "" when signed out
	Role     model.Role
	CSS      string // hashed URL of style.css
	Scripts  []string
	Flash    string
	FlashBad bool
}

// IsAdmin reports whether the signed-in person may change things.
func (p Page) IsAdmin() bool { return p.Role == model.RoleAdmin }
