package account

import (
	"context"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// UserByEmail returns the user with this email address.
func (s *Service) UserByEmail(ctx context.Context, tenantID, email string) (usher.User, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return usher.User{}, err
	}
	return s.Store.UserByEmail(ctx, tenantID, key)
}

// CheckUser reports whether pw is the password of u (enabled, unlocked),
// with CheckPassword's cost and lockout counting. A password longer than
// the policy allows is refused before any hashing, and not counted.
func (s *Service) CheckUser(ctx context.Context, u usher.User, pw string) (bool, error) {
	if err := s.checkLength(pw); err != nil {
		return false, nil
	}
	return s.check(ctx, u, pw, nil)
}

// Replacement is a whole user as a client sends it back: the email, a new
// password (nil keeps the current one), and the custom data.
type Replacement struct {
	Email    string
	Password *string
	Data     []byte
}

// Replace overwrites a user's email, password and data in one transaction.
// A new email clears verification; a new email or password ends sessions
// and voids codes.
func (s *Service) Replace(ctx context.Context, tenantID, id string, r Replacement) (usher.User, error) {
	email, key, err := NormalizeEmail(r.Email)
	if err != nil {
		return usher.User{}, err
	}
	data, err := NormalizeData(r.Data)
	if err != nil {
		return usher.User{}, err
	}
	var hash string
	if r.Password != nil {
		if err := s.checkPolicy(*r.Password); err != nil {
			return usher.User{}, err
		}
		if hash, err = s.hash(ctx, *r.Password); err != nil {
			return usher.User{}, err
		}
	}
	return s.modifyUser(ctx, tenantID, id, "user_updated", func(u *usher.User) bool {
		revoke := hash != ""
		if u.EmailKey != key {
			u.Confirmed, revoke = false, true
		}
		u.Email, u.EmailKey, u.Data = email, key, data
		if hash != "" {
			u.Hash, u.FailedChecks, u.FailedSince = hash, 0, time.Time{}
		}
		return revoke
	})
}
