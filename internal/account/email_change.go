package account

import (
	"context"
	"crypto/subtle"
	"strings"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// A signed-in user's change of its own address happens in two steps: the
// request (password checked, nothing changes, a link goes to the new
// address and a notice to the old one), then the link, which applies it.
// The pending change is a code of kind EmailChangeCode holding the link's
// token and the new address, sealed together. A newer request replaces
// it; a new password, a disable or another change of the address cancels
// it (revoke).

var errSameEmail = usher.Errorf(usher.InvalidEmail, "This is already the account's email address.")

// emailChangeSealContext binds a pending change to its user and to the
// address it replaces: once the address has changed, it cannot be opened.
func emailChangeSealContext(u usher.User) string { return "email-change:" + u.ID + ":" + u.EmailKey }

// The link's token is the user's id and the secret, so that the link finds
// the user (its address is not the new one yet) without a lookup by
// secret. A link token holds no '.'.
const emailChangeSep = "."

// RequestEmailChange asks for a signed-in user's address to become raw,
// given its password (a check that counts toward the lockout). The address
// must be free in the tenant. Nothing changes yet: the new address gets a
// link that applies the change (ApplyEmailChange) until Verify.TTL has
// passed, and the old address is told that a change was asked.
func (s *Service) RequestEmailChange(ctx context.Context, tenantID, userID, raw, pw string) error {
	email, key, err := NormalizeEmail(raw)
	if err != nil {
		return err
	}
	// The address is looked up only once the password is proved: a stolen
	// access token alone must not tell which addresses have accounts.
	var refused error
	ok, err := s.checkSelf(ctx, tenantID, userID, pw, func(ctx context.Context, tx Tx, u *usher.User) error {
		refused = nil // afresh: a lost conflict runs this again
		if u.EmailKey == key {
			refused = errSameEmail
			return nil // the right password is still recorded as such
		}
		if taken, err := emailTaken(ctx, tx, tenantID, u.ID, key); err != nil || taken {
			if taken {
				refused = errEmailTaken
			}
			return err
		}
		tok := token.NewLinkToken()
		now := s.c.Now().UTC()
		err := tx.PutCode(ctx, usher.UserCode{
			UserID: u.ID, TenantID: tenantID, Kind: usher.EmailChangeCode,
			Secret:    s.c.Box.Seal([]byte(email+"\x00"+tok), emailChangeSealContext(*u)),
			CreatedAt: now, ExpiresAt: now.Add(s.c.Verify.TTL),
		})
		if err != nil {
			return err
		}
		p := usher.MailParams{Email: email, Token: u.ID + emailChangeSep + tok}
		if tenantID != usher.DefaultTenantID {
			p.Tenant = tenantID // the link must find the user in its tenant
		}
		if err := s.enqueueTo(ctx, tx, tenantID, email, usher.MailEmailChange, p); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, *u, usher.MailEmailChangeRequested, usher.MailParams{Email: u.Email})
	})
	switch {
	case err != nil:
		return err
	case !ok:
		return errCurrentPassword
	case refused != nil:
		return refused
	}
	s.c.Notify()
	s.c.Log.InfoContext(ctx, "email change requested", "event", "email_change_requested", "user_id", userID)
	return nil
}

// emailTaken reports whether another user of the tenant has key.
func emailTaken(ctx context.Context, tx Tx, tenantID, userID, key string) (bool, error) {
	other, err := tx.UserByEmail(ctx, tenantID, key)
	if usher.ErrorCode(err) == usher.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return other.ID != userID, nil
}

// ApplyEmailChange applies the pending email change that tok (from the
// link RequestEmailChange sent to email) names, if it is still the live
// one: the address becomes email, confirmed (the link proved it); sessions,
// reset codes and the verification link end, as they do on any email
// change. The link works once. An unknown, used, replaced or expired token
// is ErrToken; an address taken meanwhile is EmailTaken, and nothing
// changes.
func (s *Service) ApplyEmailChange(ctx context.Context, tenantID, email, tok string) (Record, error) {
	userID, secret, found := strings.Cut(tok, emailChangeSep)
	_, key, err := NormalizeEmail(email)
	if !found || secret == "" || !usher.ValidID(userID) || err != nil {
		return Record{}, ErrToken
	}
	var rec Record
	refused, taken := false, false
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		rec, refused, taken = Record{}, false, false // afresh: a lost conflict runs this again
		cur, err := tx.LockUser(ctx, tenantID, userID)
		if usher.ErrorCode(err) == usher.NotFound {
			refused = true
			return nil
		}
		if err != nil {
			return err
		}
		next, nextKey, ok, err := s.pendingEmail(ctx, tx, cur, secret)
		if err != nil {
			return err
		}
		if !ok || nextKey != key {
			refused = true
			return nil
		}
		if taken, err = emailTaken(ctx, tx, tenantID, cur.ID, nextKey); err != nil || taken {
			return err
		}
		cur.Email, cur.EmailKey, cur.Confirmed = next, nextKey, true
		cur.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, &cur); err != nil {
			return err // a race the unique index decides: EmailTaken
		}
		if err := s.audit(ctx, tx, tenantID, AuditUserEmailChanged, cur.ID, detail{"by": "self", "confirmed": true}); err != nil {
			return err
		}
		rec.User = cur
		return revoke(ctx, tx, cur, revokeAddress) // the pending change too: used
	})
	switch {
	case err != nil:
		return Record{}, err
	case refused:
		s.c.Log.InfoContext(ctx, "email change refused", "event", "email_change_failed", "user_id", userID, "reason", "invalid_token")
		return Record{}, ErrToken
	case taken:
		s.c.Log.InfoContext(ctx, "email change refused", "event", "email_change_failed", "user_id", userID, "reason", "email_taken")
		return Record{}, errEmailTaken
	}
	s.c.Log.InfoContext(ctx, "user changed", "event", "email_changed", "user_id", userID)
	return rec, nil
}

// pendingEmail returns the address of u's live pending email change, and
// its key, when secret is its token; ok is false when u has none (never
// asked, expired, replaced, used, or sealed for an earlier address) or
// secret is not its token.
func (s *Service) pendingEmail(ctx context.Context, tx Tx, u usher.User, secret string) (email, key string, ok bool, err error) {
	c, err := tx.LockCode(ctx, u.ID, usher.EmailChangeCode)
	if usher.ErrorCode(err) == usher.NotFound {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	if !s.c.Now().Before(c.ExpiresAt) {
		return "", "", false, nil
	}
	plain, err := s.c.Box.Open(c.Secret, emailChangeSealContext(u))
	if err != nil {
		return "", "", false, nil
	}
	email, live, found := strings.Cut(string(plain), "\x00")
	if !found || subtle.ConstantTimeCompare([]byte(live), []byte(secret)) != 1 {
		return "", "", false, nil
	}
	email, key, err = NormalizeEmail(email)
	if err != nil {
		return "", "", false, nil // cannot happen: it was normalised when sealed
	}
	return email, key, true, nil
}
