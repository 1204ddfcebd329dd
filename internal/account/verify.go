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

// ErrToken is the answer to a wrong, expired or voided verification token.
var ErrToken = usher.Errorf(usher.InvalidCode, "Incorrect verification token.")

// verifySealContext binds a sealed verification token to its user and to
// the address it was sent to: after an email change it cannot be opened.
func verifySealContext(u usher.User) string { return "verify:" + u.ID + ":" + u.EmailKey }

// SendVerification issues a new verification token for a user (voiding
// the previous one) and queues the email with the link.
func (s *Service) SendVerification(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		u, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		_, err = s.issueVerification(ctx, tx, u)
		return err
	})
	if err != nil {
		return err
	}
	s.c.Notify()
	s.c.Log.InfoContext(ctx, "verification sent", "event", "verification_sent", "user_id", id)
	s.event(evVerificationRequested, outOK)
	return nil
}

// issueVerification stores a new sealed token for u and queues its email.
func (s *Service) issueVerification(ctx context.Context, tx Tx, u usher.User) (string, error) {
	tok := token.NewLinkToken()
	now := s.c.Now().UTC()
	err := tx.PutCode(ctx, usher.UserCode{
		UserID: u.ID, TenantID: u.TenantID, Kind: usher.VerifyCode,
		Secret: s.c.Box.Seal([]byte(tok), verifySealContext(u)), CreatedAt: now, ExpiresAt: now.Add(s.c.Verify.TTL),
	})
	if err != nil {
		return "", err
	}
	if err := s.audit(ctx, tx, u.TenantID, AuditVerificationRequested, u.ID, nil); err != nil {
		return "", err
	}
	p := usher.MailParams{Email: u.Email, Token: tok}
	if u.TenantID != usher.DefaultTenantID {
		p.Tenant = u.TenantID // the link must find the user in its tenant
	}
	return tok, s.enqueue(ctx, tx, u, usher.MailVerify, p)
}

// liveToken returns u's live verification token, or "" when it has none
// (never sent, expired, voided by an email change).
func (s *Service) liveToken(ctx context.Context, tx Tx, u usher.User) (string, error) {
	c, err := tx.Code(ctx, u.ID, usher.VerifyCode)
	if usher.ErrorCode(err) == usher.NotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !s.c.Now().Before(c.ExpiresAt) {
		return "", nil
	}
	plain, err := s.c.Box.Open(c.Secret, verifySealContext(u))
	if err != nil {
		return "", nil // sealed for an earlier address
	}
	return string(plain), nil
}

// VerifyEmail marks the user with this email verified when tok is its live
// verification token, and returns the user with it. A token stays usable
// until it expires or the email changes, so a second use on a verified
// email succeeds again.
func (s *Service) VerifyEmail(ctx context.Context, tenantID, email, tok string) (Record, error) {
	key, err := accessKey(email)
	if err != nil {
		return Record{}, err
	}
	u, err := s.c.Store.UserByEmail(ctx, tenantID, key)
	if err != nil {
		return Record{}, err
	}
	var rec Record
	refused := false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		rec, refused = Record{}, false // afresh: a lost conflict runs this again
		cur, err := tx.LockUser(ctx, tenantID, u.ID)
		if err != nil {
			return err
		}
		live, err := s.liveToken(ctx, tx, cur)
		if err != nil {
			return err
		}
		if cur.EmailKey != key || live == "" || subtle.ConstantTimeCompare([]byte(live), []byte(tok)) != 1 {
			refused = true
			return nil
		}
		rec = Record{User: cur, VerifyToken: live}
		if err := s.audit(ctx, tx, tenantID, AuditVerificationCompleted, cur.ID, nil); err != nil || cur.Confirmed {
			return err
		}
		rec.Confirmed = true
		rec.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, &rec.User); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditUserConfirmed, cur.ID, nil)
	})
	if err != nil {
		return Record{}, err
	}
	if refused {
		s.c.Log.InfoContext(ctx, "verification refused", "event", "verification_failed", "user_id", u.ID)
		s.event(evVerificationFailed, outInvalidToken)
		return Record{}, ErrToken
	}
	s.c.Log.InfoContext(ctx, "email verified", "event", "email_verified", "user_id", u.ID)
	s.event(evVerificationCompleted, outOK)
	return rec, nil
}
