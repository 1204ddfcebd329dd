// Package account holds Usher's use cases: the rules every surface shares.
// A use case is one method here and one store transaction.
package account

import (
	"context"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/usher"
)

// Lockout limits failed password checks per account: after Max failures
// within Window, every check fails until the window has passed.
type Lockout struct {
	Max    int
	Window time.Duration
}

// Config holds a Service's collaborators and rules.
type Config struct {
	Store   Store
	Hasher  *password.Hasher
	Policy  password.Policy
	Lockout Lockout
	Log     *slog.Logger
	Now     func() time.Time // defaults to time.Now
}

// Service runs the use cases.
type Service struct {
	store   Store
	hasher  *password.Hasher
	policy  password.Policy
	lockout Lockout
	log     *slog.Logger
	now     func() time.Time
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: c.Store, hasher: c.Hasher, policy: c.Policy, lockout: c.Lockout, log: c.Log, now: c.Now}
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

var errNotFound = usher.Errorf(usher.NotFound, "User not found.")

// NewUser is the input of Create.
type NewUser struct {
	Email     string
	Password  string
	Confirmed bool
	Enabled   bool
	Data      []byte // JSON object or empty
}

// Create validates in, hashes the password and inserts the user.
func (s *Service) Create(ctx context.Context, tenantID string, in NewUser) (usher.User, error) {
	email, key, err := NormalizeEmail(in.Email)
	if err != nil {
		return usher.User{}, err
	}
	if err := s.checkPolicy(in.Password); err != nil {
		return usher.User{}, err
	}
	data, err := NormalizeData(in.Data)
	if err != nil {
		return usher.User{}, err
	}
	// A taken email is refused before the costly hash. The insert below
	// still decides races by the unique index.
	if _, err := s.store.UserByEmail(ctx, tenantID, key); err == nil {
		return usher.User{}, errEmailTaken
	} else if usher.ErrorCode(err) != usher.NotFound {
		return usher.User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return usher.User{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	u := usher.User{
		ID: usher.NewID(now), TenantID: tenantID, Email: email, EmailKey: key, Hash: hash,
		Confirmed: in.Confirmed, Enabled: in.Enabled, Data: data, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.Update(ctx, func(tx Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
		return usher.User{}, err
	}
	s.log.InfoContext(ctx, "user created", "event", "user_created", "user_id", u.ID)
	return u, nil
}

var errEmailTaken = usher.Errorf(usher.EmailTaken, "A user with this email address already exists.")

// User returns one user.
func (s *Service) User(ctx context.Context, tenantID, id string) (usher.User, error) {
	if !usher.ValidID(id) {
		return usher.User{}, errNotFound
	}
	return s.store.UserByID(ctx, tenantID, id)
}

// Delete removes a user.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	err := s.store.Update(ctx, func(tx Tx) error { return tx.DeleteUser(ctx, tenantID, id) })
	if err == nil {
		s.log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", id)
	}
	return err
}

// SetEmail changes a user's email. A new address (one with another key) is
// not verified, so it clears the confirmed flag.
func (s *Service) SetEmail(ctx context.Context, tenantID, id, raw string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	email, key, err := NormalizeEmail(raw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "email_changed", func(u *usher.User) {
		if u.EmailKey != key {
			u.Confirmed = false
		}
		u.Email, u.EmailKey = email, key
	})
}

// SetPassword replaces a user's password.
func (s *Service) SetPassword(ctx context.Context, tenantID, id, pw string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	if err := s.checkPolicy(pw); err != nil {
		return err
	}
	if _, err := s.store.UserByID(ctx, tenantID, id); err != nil {
		return err // no hashing work for a user that does not exist
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "password_changed", func(u *usher.User) {
		u.Hash = hash
		u.FailedChecks, u.FailedSince = 0, time.Time{}
	})
}

// SetEnabled enables or disables a user.
func (s *Service) SetEnabled(ctx context.Context, tenantID, id string, enabled bool) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	event := "user_enabled"
	if !enabled {
		event = "user_disabled"
	}
	return s.modify(ctx, tenantID, id, event, func(u *usher.User) { u.Enabled = enabled })
}

// SetData replaces a user's custom data.
func (s *Service) SetData(ctx context.Context, tenantID, id string, raw []byte) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	data, err := NormalizeData(raw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "", func(u *usher.User) { u.Data = data })
}

// modify applies change to a locked user in one transaction.
func (s *Service) modify(ctx context.Context, tenantID, id, event string, change func(*usher.User)) error {
	err := s.store.Update(ctx, func(tx Tx) error {
		u, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		change(&u)
		u.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		return tx.UpdateUser(ctx, &u)
	})
	if err == nil && event != "" {
		s.log.InfoContext(ctx, "user changed", "event", event, "user_id", id)
	}
	return err
}

// CheckPassword reports whether pw is the password of an enabled, unlocked
// user. It costs one hash verification and one write whatever the outcome,
// so its timing does not tell a right password from a wrong one; failures
// count toward the account's lockout.
func (s *Service) CheckPassword(ctx context.Context, tenantID, id, pw string) (bool, error) {
	if !usher.ValidID(id) {
		return false, errNotFound
	}
	// A password longer than the policy allows is refused before any
	// hashing work, so a huge body cannot buy a huge hash.
	if utf8.RuneCountInString(pw) > s.policy.Max {
		return false, usher.Errorf(usher.InvalidPassword, "Password must be at most %d characters long.", s.policy.Max)
	}
	u, err := s.store.UserByID(ctx, tenantID, id)
	if err != nil {
		return false, err
	}
	return s.check(ctx, u, pw)
}

// check verifies pw against u and records the outcome.
func (s *Service) check(ctx context.Context, u usher.User, pw string) (bool, error) {
	now := s.now().UTC()
	windowStart := now.Add(-s.lockout.Window)
	locked := s.lockout.Max > 0 && u.FailedChecks >= s.lockout.Max && u.FailedSince.After(windowStart)

	match, rehash, err := s.hasher.Verify(ctx, pw, u.Hash)
	if err != nil {
		return false, s.hashErr(err)
	}
	ok := match && u.Enabled && !locked
	failed := !match

	var newHash string
	if ok && rehash {
		if newHash, err = s.hash(ctx, pw); err != nil {
			newHash = "" // keep the old hash; the check itself succeeded
		}
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.RecordCheck(ctx, u.TenantID, u.ID, failed, now, windowStart); err != nil {
			return err
		}
		if newHash != "" {
			l, err := tx.LockUser(ctx, u.TenantID, u.ID)
			if err != nil {
				return err
			}
			if l.Hash == u.Hash { // not changed meanwhile
				l.Hash = newHash
				return tx.UpdateUser(ctx, &l)
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	switch {
	case failed:
		s.log.InfoContext(ctx, "password check failed", "event", "login_failed", "user_id", u.ID, "reason", "wrong_password")
	case !ok && locked:
		s.log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", u.ID, "reason", "locked")
	case !ok:
		s.log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", u.ID, "reason", "disabled")
	}
	return ok, nil
}

func (s *Service) checkPolicy(pw string) error {
	if err := s.policy.Check(pw); err != nil {
		return usher.Errorf(usher.InvalidPassword, "%s", err.Error())
	}
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", s.hashErr(err)
	}
	return h, nil
}

func (s *Service) hashErr(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return usher.Wrap(usher.Overloaded, "The service is busy; try again shortly.", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return usher.Wrap(usher.Internal, "", err)
}
