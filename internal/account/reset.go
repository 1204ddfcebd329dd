package account

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// errCode is the one answer to a bad reset: wrong, expired, used or
// unknown code, or unknown email.
var errCode = usher.Errorf(usher.InvalidCode, "The code is invalid or has expired.")

// nobody is a user ID that no user has (IDs are UUIDv7s: never the nil
// UUID), for running a known user's work on behalf of an unknown one.
const nobody = "00000000-0000-0000-0000-000000000000"

// resetWindow is the window of the per-address reset email limit.
const resetWindow = time.Hour

// SendReset emails a password reset code to the address, if it belongs to
// an enabled user. The answer, and the work done, are the same whether or
// not it does: one transaction that counts the address's sends (shared by
// all nodes), plus the code and the queued message when the user exists.
// Nothing waits for SMTP.
func (s *Service) SendReset(ctx context.Context, tenantID, email string) error {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	u, err := s.c.Store.UserByEmail(ctx, tenantID, key)
	found := err == nil && u.Enabled
	if err != nil && usher.ErrorCode(err) != usher.NotFound {
		return err
	}
	now := s.c.Now().UTC()
	var limited, exists bool
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		limited, exists = false, found // afresh: a lost conflict runs this again
		// Counted per client address, so that no address uses up another's
		// (the owner's) requests, and for all addresses together, so that
		// many addresses cannot flood the inbox.
		n, err := tx.Count(ctx, sourceKey(ctx, "reset", tenantID+"\x00"+key), now, now.Add(-resetWindow))
		if err != nil {
			return err
		}
		all, err := tx.Count(ctx, counterKey("reset", tenantID, key), now, now.Add(-resetWindow))
		if err != nil {
			return err
		}
		if n > s.c.Reset.PerHour || all > s.c.Reset.perHourAll() {
			limited = true
			return nil
		}
		if !exists {
			return nil
		}
		// The code goes to the address the user has now: an email change
		// or a disable that landed since the read above wins.
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if usher.ErrorCode(err) == usher.NotFound || err == nil && (cur.EmailKey != key || !cur.Enabled) {
			exists = false
			return nil
		}
		if err != nil {
			return err
		}
		u = cur
		code := token.NewCode()
		err = tx.PutCode(ctx, usher.UserCode{
			UserID: u.ID, TenantID: u.TenantID, Kind: usher.ResetCode,
			Secret: token.HashCode(string(usher.ResetCode), u.ID, code), CreatedAt: now, ExpiresAt: now.Add(s.c.Reset.TTL),
		})
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditResetRequested, u.ID, nil); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, u, usher.MailReset, usher.MailParams{Email: u.Email, Code: code})
	})
	if err != nil {
		return err
	}
	if limited {
		s.event(evResetRequested, outRateLimited)
		e := usher.Errorf(usher.RateLimited, "Too many reset requests for this address; try again later.")
		e.RetryAfter = resetWindow // the window's start is not tracked here; its length bounds the wait
		return e
	}
	if exists {
		s.c.Notify()
		s.c.Log.InfoContext(ctx, "reset code sent", "event", "reset_requested", "user_id", u.ID)
		s.event(evResetRequested, outSent)
	} else {
		s.event(evResetRequested, outNoUser)
	}
	return nil
}

// ResetPassword sets a new password with a code from SendReset. The code
// dies on first use, after Reset.MaxTries wrong tries, after Reset.TTL, or
// when a newer code is sent or the password changes. Success ends every
// session and emails a notice.
func (s *Service) ResetPassword(ctx context.Context, tenantID, email, code, pw string) error {
	if err := s.checkPolicy(pw); err != nil {
		return err // says nothing about the account or the code
	}
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return errCode
	}
	code = token.NormalizeCode(code)
	if code == "" {
		return errCode
	}
	u, err := s.c.Store.UserByEmail(ctx, tenantID, key)
	if err != nil && usher.ErrorCode(err) != usher.NotFound {
		return err
	}
	known := err == nil
	if !known {
		// An unknown address runs the same work as a known one without a
		// live code, so the answer's timing tells nothing.
		u.ID, u.TenantID = nobody, tenantID
	}
	want := token.HashCode(string(usher.ResetCode), u.ID, code)

	// First check the code (counting a wrong try), without hashing inside
	// the transaction; then hash; then, in one transaction, consume the
	// code (if it is still the same one), set the password, end sessions.
	valid := false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		valid = false // afresh: a lost conflict runs this again
		t, err := tx.LockCode(ctx, u.ID, usher.ResetCode)
		if usher.ErrorCode(err) == usher.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		// A wrong, expired or worn-out code is recorded against the user
		// whose code it is (a user without a live code writes nothing).
		failed := func(reason string) error {
			return s.audit(ctx, tx, tenantID, AuditResetFailed, u.ID, detail{"reason": reason})
		}
		fuse := 10 * s.c.Reset.MaxTries
		if !s.c.Now().Before(t.ExpiresAt) || t.Tries >= fuse {
			if err := failed("code_expired"); err != nil {
				return err
			}
			return tx.DeleteCodes(ctx, u.ID, usher.ResetCode)
		}
		// Each client address has MaxTries tries at a code: its wrong
		// tries cannot kill the code for the owner. A code dies only after
		// ten times as many wrong tries in all (50 of 31^10 codes by default).
		n, err := tx.Count(ctx, sourceKey(ctx, "reset-try", t.Secret), s.c.Now().UTC(), s.c.Now().UTC().Add(-s.c.Reset.TTL))
		if err != nil {
			return err
		}
		if n > s.c.Reset.MaxTries {
			return failed("too_many_tries")
		}
		if subtle.ConstantTimeCompare([]byte(t.Secret), []byte(want)) == 1 {
			valid = true
			return nil
		}
		if err := failed("wrong_code"); err != nil {
			return err
		}
		if t.Tries+1 >= fuse {
			return tx.DeleteCodes(ctx, u.ID, usher.ResetCode)
		}
		return tx.SetCodeTries(ctx, u.ID, usher.ResetCode, t.Tries+1)
	})
	if err != nil {
		return err
	}
	if !valid {
		if known {
			s.c.Log.InfoContext(ctx, "reset refused", "event", "reset_failed", "user_id", u.ID)
			s.event(evResetFailed, outInvalidCode)
		} else {
			s.event(evResetFailed, outUnknownEmail)
		}
		return errCode
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		t, err := tx.LockCode(ctx, u.ID, usher.ResetCode)
		if usher.ErrorCode(err) == usher.NotFound || err == nil && t.Secret != want {
			return errCode // used or replaced meanwhile
		}
		if err != nil {
			return err
		}
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if err != nil {
			return err
		}
		setHash(&cur, hash)
		cur.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, &cur); err != nil {
			return err
		}
		if err := revoke(ctx, tx, cur, revokeCredentials); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditResetCompleted, cur.ID, nil); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditUserPasswordChanged, cur.ID, detail{"by": "reset"}); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, cur, usher.MailPasswordChanged, usher.MailParams{Email: cur.Email})
	})
	if err != nil {
		return err
	}
	s.c.Notify()
	s.c.Log.InfoContext(ctx, "password reset", "event", "password_reset", "user_id", u.ID)
	s.event(evResetCompleted, outOK)
	return nil
}
