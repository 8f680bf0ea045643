package directory_test

import (
	"testing"

	"github.com/movewizard/movewizard/migrate/directory"
)

func TestMemDirectoryAddUser(t *testing.T) {
	d := directory.NewMem(directory.User{DN: "uid=a,dc=example", UID: "a", Home: "one"})
	d.AddUser(directory.User{DN: "uid=b,dc=example", UID: "b", Name: "Bee", Home: "two"})
	d.AddUser(directory.User{DN: "UID=A,DC=example", UID: "a", Home: "three"})
	for _, tc := range []struct{ uid, home string }{{"a", "three"}, {"b", "two"}} {
		t.Run(tc.uid, func(t *testing.T) {
			u, err := d.Lookup(t.Context(), tc.uid)
			if err != nil || u.Home != tc.home {
				t.Errorf("Lookup(%q) = %+v, %v, want home %q", tc.uid, u, err, tc.home)
			}
		})
	}
}
