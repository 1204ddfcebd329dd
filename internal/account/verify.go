package account

import (
	"context"
	"crypto/subtle"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Verify are the rules of email verification.
type Verify struct {
	TTL        time.Duration // a token dies this long after it was sent
	OnRegister bool          // public registration sends a verification email
}

var errToken = usher.Errorf(usher.InvalidCode, "Incorrect verification token.")

// verifySealContext binds a sealed verification token to its user and to
// the address it was sent to: after an email change it cannot be opened.
func verifySealContext(u usher.User) string { return "verify:" + u.ID + ":" + u.EmailKey }

// SendVerification issues a new verification token for a user (voiding
// the previous one) and queues the email with the link. It returns the
// user and the token (the Thunder surface shows it).
func (s *Service) SendVerification(ctx context.Context, tenantID, id string) (usher.User, string, error) {
	if !usher.ValidID(id) {
		return usher.User{}, "", errNotFound
	}
	var u usher.User
	var tok string
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.LockUser(ctx, tenantID, id); err != nil {
			return err
		}
		tok, err = s.issueVerification(ctx, tx, u)
		return err
	})
	if err != nil {
		return usher.User{}, "", err
	}
	s.Notify()
	s.Log.InfoContext(ctx, "verification sent", "event", "verification_sent", "user_id", u.ID)
	return u, tok, nil
}

// issueVerification stores a new sealed token for u and queues its email.
func (s *Service) issueVerification(ctx context.Context, tx Tx, u usher.User) (string, error) {
	tok := token.NewLinkToken()
	now := s.Now().UTC()
	err := tx.PutTicket(ctx, usher.Ticket{
		UserID: u.ID, TenantID: u.TenantID, Purpose: usher.PurposeVerify,
		Secret: s.Box.Seal([]byte(tok), verifySealContext(u)), CreatedAt: now, ExpiresAt: now.Add(s.Verify.TTL),
	})
	if err != nil {
		return "", err
	}
	return tok, s.enqueue(ctx, tx, u, usher.MailVerify, usher.MailParams{Email: u.Email, Token: tok})
}

// VerificationToken returns u's live verification token, or "" when it has
// none (never sent, expired, voided by an email change).
func (s *Service) VerificationToken(ctx context.Context, u usher.User) (string, error) {
	t, err := s.Store.Ticket(ctx, u.ID, usher.PurposeVerify)
	if usher.ErrorCode(err) == usher.NotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !s.Now().Before(t.ExpiresAt) {
		return "", nil
	}
	plain, err := s.Box.Open(t.Secret, verifySealContext(u))
	if err != nil {
		return "", nil // sealed for an earlier address
	}
	return string(plain), nil
}

// VerifyEmail marks the user with this email verified when tok is its live
// verification token. A token stays usable until it expires or the email
// changes, so a second use on a verified email succeeds again.
func (s *Service) VerifyEmail(ctx context.Context, tenantID, email, tok string) (usher.User, error) {
	u, err := s.UserByEmail(ctx, tenantID, email)
	if err != nil {
		return usher.User{}, err
	}
	live, err := s.VerificationToken(ctx, u)
	if err != nil {
		return usher.User{}, err
	}
	if live == "" || subtle.ConstantTimeCompare([]byte(live), []byte(tok)) != 1 {
		s.Log.InfoContext(ctx, "verification refused", "event", "verification_failed", "user_id", u.ID)
		return usher.User{}, errToken
	}
	if u.Confirmed {
		return u, nil
	}
	err = s.Store.Update(ctx, func(tx Tx) error {
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if err != nil {
			return err
		}
		if cur.EmailKey != u.EmailKey {
			return errToken // the email changed meanwhile
		}
		cur.Confirmed = true
		cur.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
		u = cur
		return tx.UpdateUser(ctx, &cur)
	})
	if err != nil {
		return usher.User{}, err
	}
	s.Log.InfoContext(ctx, "email verified", "event", "email_verified", "user_id", u.ID)
	return u, nil
}

// ResetVerification marks a user unverified and voids its token.
func (s *Service) ResetVerification(ctx context.Context, tenantID, id string) (usher.User, error) {
	var u usher.User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.LockUser(ctx, tenantID, id); err != nil {
			return err
		}
		u.Confirmed = false
		u.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		return tx.DeleteTickets(ctx, u.ID, usher.PurposeVerify)
	})
	return u, err
}
