package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// matches an outdated hash of an enabled user, rehashes it.
// Alternates (see Access) are tried in order only when pw does not match;
// the one that matches is the password rehashed.
func (s *Service) verify(ctx context.Context, u usher.User, pw string, alternates ...string) (verified, error) {
	match, rehash, err := s.c.Hasher.Verify(ctx, pw, u.Hash)
	for _, alt := range alternates {
		if err != nil || match {
			break
		}
		if match, rehash, err = s.c.Hasher.Verify(ctx, alt, u.Hash); match {
			pw = alt
		}
	}
	if err != nil {
		return verified{}, hashErr(err)
	}
	v := verified{against: u.Hash, match: match}
	if match && rehash && u.Enabled {
		if v.newHash, err = s.hash(ctx, pw); err != nil {
			v.newHash = "" // keep the old hash; the check itself succeeded
			s.c.Log.WarnContext(ctx, "rehash skipped", "event", "rehash_failed", "user_id", u.ID, "error", err)
		}
	}
	return v, nil
}

// attempt is a password check in progress: reserved, then verified.
type attempt struct {
	v      verified
	locked bool   // refused unverified: the account is locked out
	source string // the counter of the attempt's account and client address
	// outcome is why the check failed, "" when it succeeded: set by try
	// (locked) and by record, and reported (Events) once recorded.
	outcome string
	// login makes the audit log record the attempt as a login (else as a
	// password check).
	login bool
	// locksAccount is set on the attempt whose reservation brought the
	// account to its lockout limit: when its password is wrong, the
	// account's lockout started with it.
	locksAccount bool
}

// try reserves an attempt on u, then verifies pw. The reservation counts
// the attempt as a failure, in a transaction of its own, before any hashing:
// attempts on one account queue on its row there, so however many arrive at
// once, at most Lockout.Max are verified within a window; the rest find the
// account locked and are refused unverified (after as many dummy
// verifications as a wrong password costs, so a locked account answers in
// the same time). The transaction that records the outcome clears the
// count on a right password.
func (s *Service) try(ctx context.Context, u usher.User, pw string, alternates ...string) (attempt, error) {
	a := attempt{source: lockKey(ctx, u)}
	if s.c.Lockout.Max > 0 {
		locked, addressLocked := false, false
		err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
			locked, addressLocked, a.locksAccount = false, false, false // afresh: a lost conflict runs this again
			cur, err := tx.LockUser(ctx, u.TenantID, u.ID)
			if err != nil {
				return err
			}
			now := s.c.Now().UTC()
			windowStart := now.Add(-s.c.Lockout.Window)
			// The address's window ends when the account's does: at
			// windowStart, not a millisecond later.
			n, err := tx.Count(ctx, a.source, now, windowStart.Add(time.Millisecond))
			if err != nil {
				return err
			}
			if locked = n > s.c.Lockout.Max || s.locked(cur, now); locked {
				addressLocked = n == s.c.Lockout.Max+1 // the address's first refusal in its window
				if !addressLocked {
					return nil
				}
				return s.audit(ctx, tx, cur.TenantID, AuditLockoutStarted, cur.ID, detail{"scope": "address"})
			}
			a.locksAccount = failuresAfter(cur, windowStart) == s.c.Lockout.accountMax()
			return tx.RecordFailure(ctx, cur.TenantID, cur.ID, now, windowStart)
		})
		if err != nil {
			return attempt{}, err
		}
		if locked {
			if addressLocked {
				s.event(evLockoutStarted, outLockAddress)
			}
			// As much work as a wrong password: one verification for pw
			// and one for each alternate.
			for range 1 + len(alternates) {
				if err := s.c.Hasher.DummyVerify(ctx, pw); err != nil {
					return attempt{}, hashErr(err)
				}
			}
			s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", u.ID, "reason", "locked")
			return attempt{locked: true, outcome: outLocked}, nil
		}
	}
	var err error
	a.v, err = s.verify(ctx, u, pw, alternates...)
	return a, err
}

// record decides an attempt on cur, the user as locked in tx, with the
// same writes whatever the outcome. The check succeeds when the password
// matched the hash cur still has and cur is enabled. A right password
// clears the failure count (and an outdated hash is replaced: cur shows
// the hash as stored); a wrong one was counted by its reservation, and the
// row is written back as it is, so that both cost the same (with the
// lockout off neither writes an unchanged row). It sets a.outcome, which
// the caller reports once the transaction has committed.
func (s *Service) record(ctx context.Context, tx Tx, cur *usher.User, a *attempt) (ok bool, err error) {
	if a.locked {
		return false, s.auditCheck(ctx, tx, cur, a)
	}
	v := a.v
	// A password verified against a hash the user no longer has proves
	// nothing about the current one: refused, and its reservation stays
	// counted (taking it back could take back another attempt's failure,
	// once a password change has reset the count).
	stale := cur.Hash != v.against
	match := v.match && !stale
	changed := match && (cur.FailedChecks != 0 || !cur.FailedSince.IsZero() || cur.Enabled && v.newHash != "")
	if changed {
		cur.FailedChecks, cur.FailedSince = 0, time.Time{}
		if cur.Enabled && v.newHash != "" {
			cur.Hash = v.newHash
		}
	}
	// With the lockout on, a right password always has its reservation to
	// clear, so a wrong one writes the row back as it is: both write the
	// user. With it off, neither writes a row that has not changed (an
	// UPDATE that changes nothing still writes the row's pages and those
	// of every index on its columns: a page a sign-in, for nothing).
	if changed || s.c.Lockout.Max > 0 {
		if err := tx.UpdateUser(ctx, cur); err != nil {
			return false, err
		}
	}
	// A right password also clears its address's count; a wrong one deletes
	// a counter that does not exist, so both cost the same writes.
	clear := a.source + "#none"
	if match {
		clear = a.source
	}
	if err := tx.ClearCount(ctx, clear); err != nil {
		return false, err
	}
	switch {
	case !v.match:
		s.c.Log.InfoContext(ctx, "password check failed", "event", "login_failed", "user_id", cur.ID, "reason", "wrong_password")
		a.outcome = outWrongPassword
	case stale:
		s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", cur.ID, "reason", "password_changed")
		a.outcome = outPasswordChanged
	case !cur.Enabled:
		s.c.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", cur.ID, "reason", "disabled")
		a.outcome = outDisabled
	default:
		a.outcome = ""
	}
	if err := s.auditCheck(ctx, tx, cur, a); err != nil {
		return false, err
	}
	return match && cur.Enabled, nil
}

// auditCheck records a decided attempt in tx: its success or failure (as
// a login or a check) and, when its failure started the account's
// lockout, that.
func (s *Service) auditCheck(ctx context.Context, tx Tx, cur *usher.User, a *attempt) error {
	succeeded, failed := AuditCheckSucceeded, AuditCheckFailed
	if a.login {
		succeeded, failed = AuditLoginSucceeded, AuditLoginFailed
	}
	if a.outcome == "" {
		return s.audit(ctx, tx, cur.TenantID, succeeded, cur.ID, nil)
	}
	if err := s.audit(ctx, tx, cur.TenantID, failed, cur.ID, detail{"reason": a.outcome}); err != nil {
		return err
	}
	if a.locksAccount && a.outcome == outWrongPassword {
		return s.audit(ctx, tx, cur.TenantID, AuditLockoutStarted, cur.ID, detail{"scope": "account"})
	}
	return nil
}

// lockPrefix is the start of every per-address lockout counter of u's
// current password, so that Unlock can clear them all.
func lockPrefix(u usher.User) string {
	sum := sha256.Sum256([]byte(u.ID + "\x00" + u.Hash))
	return "lock:" + hex.EncodeToString(sum[:8]) + ":"
}

// lockKey names the lockout counter of u's current password and ctx's
// client address. It holds neither the address nor the hash. A password
// change starts every address afresh, as it clears the account's count.
func lockKey(ctx context.Context, u usher.User) string {
	return lockPrefix(u) + sourceKey(ctx, "a", u.ID)
}

// locked reports whether u is locked out for every address at now.
func (s *Service) locked(u usher.User, now time.Time) bool {
	return s.c.Lockout.Max > 0 && u.FailedChecks >= s.c.Lockout.accountMax() && u.FailedSince.After(now.Add(-s.c.Lockout.Window))
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
	a, err := s.try(ctx, u, pw)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		cur, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		ok, err = s.record(ctx, tx, &cur, &a)
		return err
	})
	if err == nil {
		s.checked(evCheckSucceeded, evCheckFailed, a, ok)
	}
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
