// Package account holds Usher's use cases: the rules every surface shares.
// A use case is one method here and one store transaction.
package account

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Lockout limits failed password checks per account: after Max failures
// within Window, every check fails until the window has passed.
type Lockout struct {
	Max    int
	Window time.Duration
}

// Reset are the rules of password reset codes.
type Reset struct {
	TTL      time.Duration // a code dies this long after it was sent
	MaxTries int           // a code dies after this many wrong tries
	PerHour  int           // reset emails per address per hour
}

// Config holds a Service's collaborators and rules.
type Config struct {
	Store      Store
	Hasher     *password.Hasher
	Policy     password.Policy
	Lockout    Lockout
	Tokens     *token.Tokens
	Box        *token.Box // seals outbox contents
	SessionTTL time.Duration
	Reset      Reset
	Verify     Verify
	// Notify is called after a transaction that queued email commits, to
	// wake the relay; may be nil.
	Notify func()
	Log    *slog.Logger
	Now    func() time.Time // defaults to time.Now
}

// Service runs the use cases.
type Service struct {
	Config
	tenants tenants
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Notify == nil {
		c.Notify = func() {}
	}
	return &Service{Config: c}
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.Store.Ping(ctx) }

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
	return s.create(ctx, tenantID, in, nil)
}

// create inserts a new user; also, when given, runs in the same transaction.
func (s *Service) create(ctx context.Context, tenantID string, in NewUser, also func(Tx, *usher.User) error) (usher.User, error) {
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
	if _, err := s.Store.UserByEmail(ctx, tenantID, key); err == nil {
		return usher.User{}, errEmailTaken
	} else if usher.ErrorCode(err) != usher.NotFound {
		return usher.User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return usher.User{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	u := usher.User{
		ID: usher.NewID(now), TenantID: tenantID, Email: email, EmailKey: key, Hash: hash,
		Confirmed: in.Confirmed, Enabled: in.Enabled, Data: data, CreatedAt: now, UpdatedAt: now,
	}
	err = s.Store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil || also == nil {
			return err
		}
		return also(tx, &u)
	})
	if err != nil {
		return usher.User{}, err
	}
	s.Log.InfoContext(ctx, "user created", "event", "user_created", "user_id", u.ID)
	return u, nil
}

var errEmailTaken = usher.Errorf(usher.EmailTaken, "A user with this email address already exists.")

// User returns one user.
func (s *Service) User(ctx context.Context, tenantID, id string) (usher.User, error) {
	if !usher.ValidID(id) {
		return usher.User{}, errNotFound
	}
	return s.Store.UserByID(ctx, tenantID, id)
}

// Delete removes a user.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	err := s.Store.Update(ctx, func(tx Tx) error { return tx.DeleteUser(ctx, tenantID, id) })
	if err == nil {
		s.Log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", id)
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
	return s.modify(ctx, tenantID, id, "email_changed", func(u *usher.User) bool {
		changed := u.EmailKey != key
		if changed {
			u.Confirmed = false
		}
		u.Email, u.EmailKey = email, key
		return changed
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
	if _, err := s.Store.UserByID(ctx, tenantID, id); err != nil {
		return err // no hashing work for a user that does not exist
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "password_changed", func(u *usher.User) bool {
		u.Hash = hash
		u.FailedChecks, u.FailedSince = 0, time.Time{}
		return true
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
	return s.modify(ctx, tenantID, id, event, func(u *usher.User) bool {
		u.Enabled = enabled
		return !enabled
	})
}

// SetData replaces a user's custom data.
func (s *Service) SetData(ctx context.Context, tenantID, id string, raw []byte) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return usher.Errorf(usher.InvalidData, "Data must be a JSON object.")
	}
	data, err := NormalizeData(raw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "", func(u *usher.User) bool {
		u.Data = data
		return false
	})
}

// modify applies change to a locked user in one transaction. When change
// reports that the user's credentials changed (password, email, disabled),
// the user's sessions end and outstanding codes die in that transaction.
func (s *Service) modify(ctx context.Context, tenantID, id, event string, change func(*usher.User) (revoke bool)) error {
	_, err := s.modifyUser(ctx, tenantID, id, event, change)
	return err
}

// modifyUser is modify, returning the user as written.
func (s *Service) modifyUser(ctx context.Context, tenantID, id, event string, change func(*usher.User) (revoke bool)) (usher.User, error) {
	var u usher.User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.LockUser(ctx, tenantID, id); err != nil {
			return err
		}
		revoke := change(&u)
		u.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		if revoke {
			return revokeAll(ctx, tx, u)
		}
		return nil
	})
	if err != nil {
		return usher.User{}, err
	}
	if event != "" {
		s.Log.InfoContext(ctx, "user changed", "event", event, "user_id", id)
	}
	return u, nil
}

// revokeAll ends every session of u and voids its outstanding codes.
func revokeAll(ctx context.Context, tx Tx, u usher.User) error {
	if err := tx.DeleteSessions(ctx, u.TenantID, u.ID); err != nil {
		return err
	}
	return tx.DeleteTickets(ctx, u.ID, usher.PurposeReset, usher.PurposeVerify)
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
	u, err := s.Store.UserByID(ctx, tenantID, id)
	if err != nil {
		return false, err
	}
	return s.check(ctx, u, pw, nil)
}

// check verifies pw against u and records the outcome; when the check
// succeeds, onSuccess runs in the same transaction.
func (s *Service) check(ctx context.Context, u usher.User, pw string, onSuccess func(Tx) error) (bool, error) {
	now := s.Now().UTC()
	windowStart := now.Add(-s.Lockout.Window)
	locked := s.Lockout.Max > 0 && u.FailedChecks >= s.Lockout.Max && u.FailedSince.After(windowStart)

	match, rehash, err := s.Hasher.Verify(ctx, pw, u.Hash)
	if err != nil {
		return false, s.hashErr(err)
	}
	ok := match && u.Enabled && !locked
	// A right password on a locked account counts as a failure: clearing
	// the counter would lift the lock after one guess.
	failed := !match || locked

	var newHash string
	if ok && rehash {
		if newHash, err = s.hash(ctx, pw); err != nil {
			newHash = "" // keep the old hash; the check itself succeeded
			s.Log.WarnContext(ctx, "rehash skipped", "event", "rehash_failed", "user_id", u.ID, "error", err)
		}
	}
	err = s.Store.Update(ctx, func(tx Tx) error {
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
				if err := tx.UpdateUser(ctx, &l); err != nil {
					return err
				}
			}
		}
		if ok && onSuccess != nil {
			return onSuccess(tx)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	switch {
	case failed:
		s.Log.InfoContext(ctx, "password check failed", "event", "login_failed", "user_id", u.ID, "reason", "wrong_password")
	case !ok && locked:
		s.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", u.ID, "reason", "locked")
	case !ok:
		s.Log.InfoContext(ctx, "password check refused", "event", "login_failed", "user_id", u.ID, "reason", "disabled")
	}
	return ok, nil
}

// checkLength refuses a password longer than any the policy lets be set,
// before any hashing work, so a huge body cannot buy a huge hash.
func (s *Service) checkLength(pw string) error {
	if utf8.RuneCountInString(pw) > s.Policy.Max {
		return usher.Errorf(usher.InvalidPassword, "Password must be at most %d characters long.", s.Policy.Max)
	}
	return nil
}

func (s *Service) checkPolicy(pw string) error {
	if err := s.Policy.Check(pw); err != nil {
		return usher.Errorf(usher.InvalidPassword, "%s", err.Error())
	}
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.Hasher.Hash(ctx, pw)
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
