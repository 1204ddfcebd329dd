package account

import (
	"context"

	"github.com/usherhq/usher/internal/usher"
)

// The self-service calls of a signed-in user (the public API's /me
// routes): each proves the user knows the password, as a password check
// that counts toward the lockout.

var errCurrentPassword = usher.Errorf(usher.InvalidPassword, "The current password is not right.")

// checkSelf verifies pw as userID's password in tx, recording the check;
// it reports whether it matched, and the user as locked.
func (s *Service) checkSelf(ctx context.Context, tenantID, userID, pw string, change func(context.Context, Tx, *usher.User) error) (bool, error) {
	if err := s.checkLength(pw); err != nil {
		return false, errCurrentPassword
	}
	u, err := s.c.Store.UserByID(ctx, tenantID, userID)
	if err != nil {
		return false, err
	}
	a, err := s.try(ctx, u, pw)
	if err != nil {
		return false, err
	}
	ok := false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockUser(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		if ok, err = s.record(ctx, tx, &cur, &a); err != nil || !ok {
			return err // a wrong password is committed: it counts
		}
		return change(ctx, tx, &cur)
	})
	if err == nil {
		s.checked(evCheckSucceeded, evCheckFailed, a, ok)
	}
	return ok, err
}

// ChangeOwnPassword sets a signed-in user's password, given the current
// one. The session that asks stays; every other session ends, reset codes
// and a pending email change die, and a "password changed" email goes out.
func (s *Service) ChangeOwnPassword(ctx context.Context, tenantID, userID, sessionID, current, next string) error {
	if err := s.checkPolicy(next); err != nil {
		return err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	ok, err := s.checkSelf(ctx, tenantID, userID, current, func(ctx context.Context, tx Tx, u *usher.User) error {
		setHash(u, hash)
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.DeleteOtherSessions(ctx, tenantID, u.ID, sessionID); err != nil {
			return err
		}
		if err := tx.DeleteCodes(ctx, u.ID, usher.ResetCode, usher.EmailChangeCode, usher.MFACode); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditUserPasswordChanged, u.ID, detail{"by": "self"}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, *u, usher.MailPasswordChanged, usher.MailParams{Email: u.Email})
	})
	if err != nil {
		return err
	}
	if !ok {
		return errCurrentPassword
	}
	s.c.Notify()
	s.c.Log.InfoContext(ctx, "user changed", "event", "password_changed", "user_id", userID)
	return nil
}

// DeleteOwnAccount deletes a signed-in user, given its password.
func (s *Service) DeleteOwnAccount(ctx context.Context, tenantID, userID, pw string) error {
	ok, err := s.checkSelf(ctx, tenantID, userID, pw, func(ctx context.Context, tx Tx, u *usher.User) error {
		if err := tx.DeleteUser(ctx, tenantID, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditUserDeleted, u.ID, detail{"by": "self"})
	})
	if err != nil {
		return err
	}
	if !ok {
		return errCurrentPassword
	}
	s.c.Log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", userID)
	return nil
}
