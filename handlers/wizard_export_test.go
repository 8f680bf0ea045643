package handlers

import (
	"context"
	"encoding/json"
)

// WizardSelectForTest stores a selection and a target in the wizard of the
// session whose cookie is token, past the users step's directory checks:
// the wizard's tests use it for users the step would refuse (unknown uids,
// an unregistered home) to see what the preflight says of them.
func WizardSelectForTest(s *Server, token, target string, uids ...string) error {
	ctx := context.Background()
	sess, err := s.DB.SessionByToken(ctx, token)
	if err != nil {
		return err
	}
	st := newWizardState()
	for _, uid := range uids {
		st.Users = append(st.Users, wizardUser{UID: uid})
	}
	st.Target = target
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.DB.SaveWizardState(ctx, sess.ID, string(data))
}
