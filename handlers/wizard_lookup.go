package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/movewizard/movewizard/migrate/directory"
)

// wizardLookups is how many directory lookups run at once: LDAP opens a
// connection per lookup, and a pasted list may hold thousands of uids.
const wizardLookups = 8

// lookedUp is the directory's answer for one uid.
type lookedUp struct {
	uid   string
	user  directory.User
	found bool
}

// lookupUsers looks every uid up, a few at once, and returns the answers
// in the order of uids. Unknown uids are answers (found false); any other
// failure is the error.
func (s *Server) lookupUsers(ctx context.Context, uids []string) ([]lookedUp, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([]lookedUp, len(uids))
	errs := make([]error, len(uids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(wizardLookups, len(uids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				u, err := s.Dir.Lookup(ctx, uids[i])
				switch {
				case errors.Is(err, directory.ErrNotFound):
					out[i] = lookedUp{uid: uids[i]}
				case err != nil:
					errs[i] = err
					cancel()
				default:
					out[i] = lookedUp{uid: uids[i], user: u, found: true}
				}
			}
		}()
	}
feed:
	for i := range uids {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("look up users: %w", err)
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
