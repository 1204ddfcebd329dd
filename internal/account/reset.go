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
	u, err := s.Store.UserByEmail(ctx, tenantID, key)
	exists := err == nil && u.Enabled
	if err != nil && usher.ErrorCode(err) != usher.NotFound {
		return err
	}
	now := s.Now().UTC()
	limited := false
	err = s.Store.Update(ctx, func(tx Tx) error {
		n, err := tx.Count(ctx, counterKey("reset", tenantID, key), now, now.Add(-resetWindow))
		if err != nil {
			return err
		}
		if n > s.Reset.PerHour {
			limited = true
			return nil
		}
		if !exists {
			return nil
		}
		code := token.NewCode()
		err = tx.PutTicket(ctx, usher.Ticket{
			UserID: u.ID, TenantID: u.TenantID, Purpose: usher.PurposeReset,
			Secret: token.HashCode(usher.PurposeReset, u.ID, code), CreatedAt: now, ExpiresAt: now.Add(s.Reset.TTL),
		})
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, u, usher.MailReset, usher.MailParams{Email: u.Email, Code: code})
	})
	if err != nil {
		return err
	}
	if limited {
		e := usher.Errorf(usher.RateLimited, "Too many reset requests for this address; try again later.")
		e.RetryAfter = resetWindow // the window's start is not tracked here; its length bounds the wait
		return e
	}
	if exists {
		s.Notify()
		s.Log.InfoContext(ctx, "reset code sent", "event", "reset_requested", "user_id", u.ID)
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
	u, err := s.Store.UserByEmail(ctx, tenantID, key)
	if usher.ErrorCode(err) == usher.NotFound {
		return errCode
	}
	if err != nil {
		return err
	}
	want := token.HashCode(usher.PurposeReset, u.ID, code)

	// First check the code (counting a wrong try), without hashing inside
	// the transaction; then hash; then, in one transaction, consume the
	// code (if it is still the same one), set the password, end sessions.
	valid := false
	err = s.Store.Update(ctx, func(tx Tx) error {
		t, err := tx.LockTicket(ctx, u.ID, usher.PurposeReset)
		if usher.ErrorCode(err) == usher.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if !s.Now().Before(t.ExpiresAt) || t.Tries >= s.Reset.MaxTries {
			return tx.DeleteTickets(ctx, u.ID, usher.PurposeReset)
		}
		if subtle.ConstantTimeCompare([]byte(t.Secret), []byte(want)) == 1 {
			valid = true
			return nil
		}
		if t.Tries+1 >= s.Reset.MaxTries {
			return tx.DeleteTickets(ctx, u.ID, usher.PurposeReset)
		}
		return tx.SetTicketTries(ctx, u.ID, usher.PurposeReset, t.Tries+1)
	})
	if err != nil {
		return err
	}
	if !valid {
		s.Log.InfoContext(ctx, "reset refused", "event", "reset_failed", "user_id", u.ID)
		return errCode
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	err = s.Store.Update(ctx, func(tx Tx) error {
		t, err := tx.LockTicket(ctx, u.ID, usher.PurposeReset)
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
		cur.Hash = hash
		cur.FailedChecks, cur.FailedSince = 0, time.Time{}
		cur.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
		if err := tx.UpdateUser(ctx, &cur); err != nil {
			return err
		}
		if err := revokeAll(ctx, tx, cur); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, cur, usher.MailPasswordChanged, usher.MailParams{Email: cur.Email})
	})
	if err != nil {
		return err
	}
	s.Notify()
	s.Log.InfoContext(ctx, "password reset", "event", "password_reset", "user_id", u.ID)
	return nil
}
