package account

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/usher"
)

// verified is a password verified against a user's hash, outside any
// transaction (hashing is the one slow step), waiting to be recorded.
type verified struct {
	against string // the hash the password was verified against
	match   bool
	newHash string // the password rehashed with today's parameters, "" for none
}

// verify checks pw against u's hash in the hashing pool and, when it
// matches an outdated hash, rehashes it.
func (s *Service) verify(ctx context.Context, u usher.User, pw string) (verified, error) {
	match, rehash, err := s.c.Hasher.Verify(ctx, pw, u.Hash)
	if err != nil {
		return verified{}, hashErr(err)
	}
	v := verified{against: u.Hash, match: match}
	if match && rehash && u.Enabled && !s.locked(u, s.c.Now().UTC()) {
		if v.newHash, err = s.hash(ctx, pw); err != nil {
			v.newHash = "" // keep the old hash; the check itself succeeded
			s.c.Log.WarnContext(ctx, "rehash skipped", "event", "rehash_failed", "user_id", u.ID, "error", err)
		}
	}
	return v, nil
}

// record decides a verified password check on cur, the user as locked in
// tx, and records it for lockout: one write whatever the outcome. The check
// succeeds when the password matched the hash cur still has, cur is
// enabled and not locked out. On success cur's count is cleared and an
// outdated hash replaced (cur shows the hash as stored).
func (s *Service) record(ctx context.Context, tx Tx, cur *usher.User, v verified) (ok bool, err error) {
	now := s.c.Now().UTC()
	windowStart := now.Add(-s.c.Lockout.Window)
	locked := s.locked(*cur, now)
	// A password verified against a hash the user no longer has proves
	// nothing about the current one: refuse, without counting a guess.
	stale := cur.Hash != v.against
	ok = v.match && cur.Enabled && !locked && !stale
	// A right password on a locked account counts as a failure: clearing
	// the counter would lift the lock after one guess.
	failed := !stale && (!v.match || locked)

	switch {
	case ok && v.newHash != "":
		setHash(cur, v.newHash)
		err = tx.UpdateUser(ctx, cur)
	case stale:
		err = tx.RecordCheck(ctx, cur.TenantID, cur.ID, false, now, windowStart)
		cur.FailedChecks, cur.FailedSince = 0, time.Time{}
	default:
		err = tx.RecordCheck(ctx, cur.TenantID, cur.ID, failed, now, windowStart)
		if !failed {
			cur.FailedChecks, cur.FailedSince = 0, time.Time{}
		}
	}
	if err != nil {
		return false, err
	}
	switch {
	case failed && !v.match:
		s.c.Log.InfoContext(ctx, "password check failed", "event", "login_failed", "user_id", cur.ID, "reason", "wrong_password")
	case !ok && locked:
		s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", cur.ID, "reason", "locked")
	case !ok && stale:
		s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", cur.ID, "reason", "password_changed")
	case !ok:
		s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", cur.ID, "reason", "disabled")
	}
	return ok, nil
}

// locked reports whether u is locked out at now.
func (s *Service) locked(u usher.User, now time.Time) bool {
	return s.c.Lockout.Max > 0 && u.FailedChecks >= s.c.Lockout.Max && u.FailedSince.After(now.Add(-s.c.Lockout.Window))
}

// CheckPassword reports whether pw is the password of an enabled, unlocked
// user. It costs one hash verification and one write whatever the outcome,
// so its timing does not tell a right password from a wrong one; failures
// count toward the account's lockout.
func (s *Service) CheckPassword(ctx context.Context, tenantID, id, pw string) (bool, error) {
	if !usher.ValidID(id) {
		return false, errNotFound
	}
	if err := s.checkLength(pw); err != nil {
		return false, err
	}
	u, err := s.c.Store.UserByID(ctx, tenantID, id)
	if err != nil {
		return false, err
	}
	v, err := s.verify(ctx, u, pw)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		ok, err = s.record(ctx, tx, &cur, v)
		return err
	})
	return ok, err
}

// checkLength refuses a password longer than any the policy lets be set,
// before any hashing work, so a huge body cannot buy a huge hash.
func (s *Service) checkLength(pw string) error {
	if utf8.RuneCountInString(pw) > s.c.Policy.Max {
		return usher.Errorf(usher.InvalidPassword, "Password must be at most %d characters long.", s.c.Policy.Max)
	}
	return nil
}
