// Package account holds Usher's use cases: the rules every surface shares.
// A use case is one method here and one store transaction.
package account

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/usherhq/usher/internal/password"
	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// Lockout limits failed password checks. Attempts are counted per account
// and client address (usher.ClientAddr): after Max within Window, that
// address's checks of the account fail until the window has passed, and
// nobody else's. After AccountMax failures from all addresses together the
// account is locked for every address, so guessing from many addresses is
// bounded too.
type Lockout struct {
	Max        int
	AccountMax int // 0: 10 × Max
	Window     time.Duration
}

// accountMax is the account-wide limit.
func (l Lockout) accountMax() int {
	if l.AccountMax > 0 {
		return l.AccountMax
	}
	return 10 * l.Max
}

// Reset are the rules of password reset codes. Requests and wrong tries are
// counted per client address, so that no address can use up another's: the
// owner of an account keeps a way back in however often others ask.
type Reset struct {
	TTL        time.Duration // a code dies this long after it was sent
	MaxTries   int           // tries of one code per client address; a code dies after 10 × MaxTries wrong tries in all
	PerHour    int           // reset emails per address, per client address, per hour
	PerHourAll int           // reset emails per address per hour from all client addresses (0: 4 × PerHour)
}

// perHourAll is the per-address limit of reset emails from every source.
func (r Reset) perHourAll() int {
	if r.PerHourAll > 0 {
		return r.PerHourAll
	}
	return 4 * r.PerHour
}

// sourceKey names a counter of kind for a subject (a user, an address)
// and the client address of ctx, without storing either.
func sourceKey(ctx context.Context, kind, subject string) string {
	sum := sha256.Sum256([]byte(subject + "\x00" + usher.ClientAddr(ctx)))
	return kind + ":" + hex.EncodeToString(sum[:16])
}

// Config holds a Service's collaborators and rules.
type Config struct {
	Store      Store
	Hasher     *password.Hasher
	Policy     password.Policy
	Lockout    Lockout
	Tokens     *token.Tokens
	Box        usher.Sealer // seals outbox contents and verification tokens
	SessionTTL time.Duration
	Reset      Reset
	Verify     Verify
	Webhooks   WebhookRules
	Refresh    Refresh
	Admin      AdminRules // the console's sessions and setup links
	// Notify is called after a transaction that queued email commits, to
	// wake the relay; may be nil.
	Notify func()
	Events Events // observes what the use cases do (metrics); may be nil
	Log    *slog.Logger
	Now    func() time.Time // defaults to time.Now
}

// Service runs the use cases. Its collaborators are its own: a caller sees
// only the use cases.
type Service struct {
	c       Config
	tenants tenants
	events  eventIDs
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
	c.Admin = c.Admin.withDefaults()
	if c.Refresh == (Refresh{}) {
		c.Refresh = Refresh{AccessTTL: 15 * time.Minute, Idle: 7 * 24 * time.Hour, MaxAge: 30 * 24 * time.Hour}
	}
	if c.Webhooks.CheckURL == nil || c.Webhooks.NewSecret == nil {
		c.Webhooks.CheckURL = func(string) error { return errors.New("webhooks are not set up on this server") }
	}
	return &Service{c: c}
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.c.Store.Ping(ctx) }

var (
	errNotFound   = usher.Errorf(usher.NotFound, "User not found.")
	errEmailTaken = usher.Errorf(usher.EmailTaken, "A user with this email address already exists.")
)

// now is the time of a change, at the millisecond precision stores keep.
func (s *Service) now() time.Time { return s.c.Now().UTC().Truncate(time.Millisecond) }

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
func (s *Service) create(ctx context.Context, tenantID string, in NewUser, also func(context.Context, Tx, *usher.User) error) (usher.User, error) {
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
	if _, err := s.c.Store.UserByEmail(ctx, tenantID, key); err == nil {
		return usher.User{}, errEmailTaken
	} else if usher.ErrorCode(err) != usher.NotFound {
		return usher.User{}, err
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return usher.User{}, err
	}
	now := s.now()
	u := usher.User{
		ID: usher.NewID(now), TenantID: tenantID, Email: email, EmailKey: key, Hash: hash,
		Confirmed: in.Confirmed, Enabled: in.Enabled, Data: data, CreatedAt: now, UpdatedAt: now,
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditUserCreated, u.ID, detail{"confirmed": u.Confirmed, "enabled": u.Enabled}); err != nil || also == nil {
			return err
		}
		return also(ctx, tx, &u)
	})
	if err != nil {
		return usher.User{}, err
	}
	s.c.Log.InfoContext(ctx, "user created", "event", "user_created", "user_id", u.ID)
	s.event(evUserCreated, outOK)
	return u, nil
}

// User returns one user.
func (s *Service) User(ctx context.Context, tenantID, id string) (usher.User, error) {
	if !usher.ValidID(id) {
		return usher.User{}, errNotFound
	}
	return s.c.Store.UserByID(ctx, tenantID, id)
}

// Delete removes a user.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.DeleteUser(ctx, tenantID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditUserDeleted, id, nil)
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", id)
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
	return s.modify(ctx, tenantID, id, "email_changed", AuditUserEmailChanged, func(u *usher.User) revocation {
		if u.EmailKey == key {
			u.Email = email
			return keep
		}
		u.Email, u.EmailKey, u.Confirmed = email, key, false
		return revokeAddress
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
	if _, err := s.c.Store.UserByID(ctx, tenantID, id); err != nil {
		return err // no hashing work for a user that does not exist
	}
	hash, err := s.hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.modify(ctx, tenantID, id, "password_changed", AuditUserPasswordChanged, func(u *usher.User) revocation {
		setHash(u, hash)
		return revokeCredentials
	})
}

// setHash gives u a new password hash, which clears its lockout count.
func setHash(u *usher.User, hash string) {
	u.Hash, u.FailedChecks, u.FailedSince = hash, 0, time.Time{}
}

// SetEnabled enables or disables a user.
func (s *Service) SetEnabled(ctx context.Context, tenantID, id string, enabled bool) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	event, typ := "user_enabled", AuditUserEnabled
	if !enabled {
		event, typ = "user_disabled", AuditUserDisabled
	}
	return s.modify(ctx, tenantID, id, event, typ, func(u *usher.User) revocation {
		u.Enabled = enabled
		if enabled {
			return keep
		}
		return revokeCredentials
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
	return s.modify(ctx, tenantID, id, "", AuditUserUpdated, func(u *usher.User) revocation {
		u.Data = data
		return keep
	})
}

// revocation is what a change to an account ends.
type revocation int

const (
	keep revocation = iota
	// revokeCredentials ends sessions and voids reset codes: the password
	// changed, or the account was disabled.
	revokeCredentials
	// revokeAddress also voids the verification link: the email changed.
	revokeAddress
)

// modify applies change to a locked user in one transaction, and ends what
// change says the change revokes.
func (s *Service) modify(ctx context.Context, tenantID, id, event, typ string, change func(*usher.User) revocation) error {
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		u, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		before := u
		r := change(&u)
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		var d detail
		switch typ {
		case AuditUserEnabled, AuditUserDisabled:
			if before.Enabled == u.Enabled {
				typ = "" // no change to record
			}
		case AuditUserUpdated:
			d = detail{"fields": []string{"data"}}
		case AuditUserEmailChanged:
			d = detail{"confirmed": u.Confirmed}
			if before.EmailKey == u.EmailKey {
				d["same_address"] = true // only its case or form changed
			}
		}
		if typ != "" {
			if err := s.audit(ctx, tx, tenantID, typ, u.ID, d); err != nil {
				return err
			}
		}
		return revoke(ctx, tx, u, r)
	})
	if err == nil && event != "" {
		s.c.Log.InfoContext(ctx, "user changed", "event", event, "user_id", id)
	}
	return err
}

// revoke ends what r names for u: sessions, reset codes and a pending
// email change when its credentials changed, and the verification link too
// when its address did. A verification link proves the address, so a
// password change leaves it; a pending email change was asked with the old
// password, so a new one (the owner taking the account back) cancels it.
func revoke(ctx context.Context, tx Tx, u usher.User, r revocation) error {
	if r == keep {
		return nil
	}
	if err := tx.DeleteSessions(ctx, u.TenantID, u.ID); err != nil {
		return err
	}
	if r == revokeAddress {
		return tx.DeleteCodes(ctx, u.ID, usher.ResetCode, usher.EmailChangeCode, usher.MFACode, usher.VerifyCode)
	}
	return tx.DeleteCodes(ctx, u.ID, usher.ResetCode, usher.EmailChangeCode, usher.MFACode)
}

func (s *Service) checkPolicy(pw string) error {
	if err := s.c.Policy.Check(pw); err != nil {
		return usher.Errorf(usher.InvalidPassword, "%s", err.Error())
	}
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (string, error) {
	h, err := s.c.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", hashErr(err)
	}
	return h, nil
}

func hashErr(err error) error {
	if errors.Is(err, password.ErrBusy) {
		return usher.Wrap(usher.Overloaded, "The service is busy; try again shortly.", err)
	}
	if errors.Is(err, password.ErrOffload) {
		// The hashing process could not be started or died twice: out of
		// memory or processes for the moment, most likely. The client may
		// try again. Nothing was created or changed, but a sign-in's
		// reservation stays counted, as for ErrBusy (try, in check.go).
		// Thunder's surface words every 503 as Thunder does ("Database is
		// currently unavailable").
		return usher.Wrap(usher.Unavailable, "Password checks are unavailable; try again shortly.", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return usher.Wrap(usher.Internal, "", err)
}
