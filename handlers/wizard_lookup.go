package handlers

import (
	"context"
	"fmt"

	"github.com/movewizard/movewizard/migrate/directory"
)

// lookedUp is the directory's answer for one uid.
type lookedUp struct {
	uid   string
	user  directory.User
	found bool
}

// lookupUsers looks every uid up at once (Directory.LookupMany: one LDAP
// connection) and returns the answers in the order of uids. Unknown uids are
// answers (found false); any other failure is the error.
func (s *Server) lookupUsers(ctx context.Context, uids []string) ([]lookedUp, error) {
	found, err := s.Dir.LookupMany(ctx, uids)
	if err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
	}
	out := make([]lookedUp, len(uids))
	for i, uid := range uids {
		u, ok := found[uid]
		out[i] = lookedUp{uid: uid, user: u, found: ok}
	}
	return out, nil
}

// selectable says whether a directory user can be selected: the user's
// side of the move rule (config.CanMove without a target), whose home must
// name a registered server. The reason is a clause for the page.
func (s *Server) selectable(u directory.User) (wizardUser, string) {
	e := s.Config.CanMove(u.Home, "")
	if !e.OK() {
		return wizardUser{}, e.Reason()
	}
	return wizardUser{UID: u.UID, Name: u.Name, Source: e.Source.Name}, ""
}
