package account

import (
	"context"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// Users reads users. Every method returns a usher.NotFound error for a user
// that does not exist.
type Users interface {
	UserByID(ctx context.Context, tenantID, id string) (usher.User, error)
	UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error)
}

// Reader is what use cases read outside a transaction.
type Reader interface {
	Users
	// SessionUser returns the user of a live (existing, unexpired) session
	// and when the session was last marked used (zero: never).
	SessionUser(ctx context.Context, tenantID, sessionID, userID string, now time.Time) (usher.User, time.Time, error)
	// TouchSession marks a session used at now.
	TouchSession(ctx context.Context, tenantID, id string, now time.Time) error
	// Sessions returns a user's live sessions at now, newest first.
	Sessions(ctx context.Context, tenantID, userID string, now time.Time) ([]usher.Session, error)

	// UsersByEmailKeys returns the tenant's users that have one of keys.
	UsersByEmailKeys(ctx context.Context, tenantID string, keys []string) ([]usher.User, error)

	// ListUsers returns a page of users in creation order.
	ListUsers(ctx context.Context, q usher.UserQuery) ([]usher.User, error)
	// CountUsers counts the users q selects, ignoring its cursor and limit.
	CountUsers(ctx context.Context, q usher.UserQuery) (int, error)
	// EachUser calls fn with every user of a tenant in creation order,
	// from one snapshot, however long it takes.
	EachUser(ctx context.Context, tenantID string, fn func(usher.User) error) error

	// TenantByKey returns the tenant whose current or previous public key
	// is key.
	TenantByKey(ctx context.Context, key string) (usher.Tenant, error)
	TenantByID(ctx context.Context, id string) (usher.Tenant, error)
	TenantByName(ctx context.Context, name string) (usher.Tenant, error)
	// Tenants returns every tenant, oldest first.
	Tenants(ctx context.Context) ([]usher.Tenant, error)

	// Events returns a page of a tenant's audit log, oldest first.
	Events(ctx context.Context, q usher.EventQuery) ([]usher.Event, error)
	// PruneEvents deletes up to limit events with ids below beforeID.
	PruneEvents(ctx context.Context, beforeID string, limit int) (int, error)
	// Webhooks returns a tenant's webhook endpoints.
	Webhooks(ctx context.Context, tenantID string) ([]usher.Webhook, error)

	// Admins returns every console admin, oldest first.
	Admins(ctx context.Context) ([]usher.Admin, error)
	AdminByID(ctx context.Context, id string) (usher.Admin, error)
	AdminByEmail(ctx context.Context, emailKey string) (usher.Admin, error)
	// AdminSession returns a console session by its hash, expired or not.
	AdminSession(ctx context.Context, hash string) (usher.AdminSession, error)
	// TouchAdminSession marks a console session seen at now.
	TouchAdminSession(ctx context.Context, hash string, now time.Time) error
	// QueuedMessages returns up to limit of a tenant's unsent messages in
	// a state (usher.QueuePending, QueueFailed, QueueAbandoned), oldest
	// first.
	QueuedMessages(ctx context.Context, tenantID, state string, limit int) ([]usher.QueuedMessage, error)
	// EventCounts counts a tenant's events of types since a time, per
	// bucket of a width.
	EventCounts(ctx context.Context, tenantID string, types []string, since time.Time, bucket time.Duration) ([]usher.EventCount, error)
}

// Tx is one write transaction. Its methods run on the context that Update
// passes to the transaction's function, which carries the transaction's
// deadline.
type Tx interface {
	Users
	// LockUser reads a user and holds it against concurrent writers until
	// the transaction ends.
	LockUser(ctx context.Context, tenantID, id string) (usher.User, error)
	// CreateUser inserts u; a taken email key is a usher.EmailTaken error.
	CreateUser(ctx context.Context, u *usher.User) error
	// UpdateUser writes u's mutable fields (email, key, hash, flags, data,
	// updated_at, lockout counters); a taken email key is usher.EmailTaken.
	UpdateUser(ctx context.Context, u *usher.User) error
	DeleteUser(ctx context.Context, tenantID, id string) error
	// RecordFailure counts a failed password check for lockout in the
	// window that starts at windowStart (a failure before it starts a new
	// window at now). A success clears the count with UpdateUser.
	RecordFailure(ctx context.Context, tenantID, id string, now, windowStart time.Time) error

	// UsersByEmailKeys returns the tenant's users that have one of keys.
	UsersByEmailKeys(ctx context.Context, tenantID string, keys []string) ([]usher.User, error)
	// UsersByIDs returns the users of any tenant that have one of ids.
	UsersByIDs(ctx context.Context, ids []string) ([]usher.User, error)
	// CreateUsers inserts users, a few dozen a statement; a taken email or
	// id is usher.EmailTaken and fails the transaction.
	CreateUsers(ctx context.Context, us []*usher.User) error

	CreateSession(ctx context.Context, s usher.Session) error
	DeleteSession(ctx context.Context, tenantID, id string) error
	// LockSession reads a live session and holds it until the transaction
	// ends (NotFound: none).
	LockSession(ctx context.Context, tenantID, id string, now time.Time) (usher.Session, error)
	// ExtendSession moves a session's expiry.
	ExtendSession(ctx context.Context, tenantID, id string, expires time.Time) error
	// PutTOTP stores a user's TOTP secret, replacing one it had.
	PutTOTP(ctx context.Context, x usher.TOTP) error
	// LockTOTP reads a user's TOTP and holds it (NotFound: none).
	LockTOTP(ctx context.Context, tenantID, userID string) (usher.TOTP, error)
	// SetTOTPStep records the step of an accepted code, and confirms.
	SetTOTPStep(ctx context.Context, userID string, step int64) error
	// DeleteTOTP removes a user's second factor and recovery codes.
	DeleteTOTP(ctx context.Context, userID string) error
	// PutRecoveryCodes replaces a user's recovery codes (hashes).
	PutRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode spends a recovery code (NotFound: none such).
	UseRecoveryCode(ctx context.Context, userID, hash string) error
	// PutRefreshToken stores a new refresh token.
	PutRefreshToken(ctx context.Context, rt usher.RefreshToken) error
	// LockRefreshToken reads a tenant's refresh token by its hash and holds
	// it until the transaction ends (NotFound: none).
	LockRefreshToken(ctx context.Context, tenantID, hash string) (usher.RefreshToken, error)
	// RefreshTokenSession returns the session of a tenant's refresh token,
	// holding nothing (NotFound: none).
	RefreshTokenSession(ctx context.Context, tenantID, hash string) (string, error)
	// UseRefreshToken marks an unused refresh token used, keeping the next
	// one sealed (NotFound: none, or used already).
	UseRefreshToken(ctx context.Context, hash string, now time.Time, next string) error
	// DeleteUserSession ends one session of a user (NotFound: none).
	DeleteUserSession(ctx context.Context, tenantID, userID, id string) error
	DeleteSessions(ctx context.Context, tenantID, userID string) error
	// DeleteOtherSessions ends every session of a user but keep.
	DeleteOtherSessions(ctx context.Context, tenantID, userID, keep string) error

	CreateTenant(ctx context.Context, t usher.Tenant) error
	LockTenant(ctx context.Context, id string) (usher.Tenant, error)
	// SetTenantKeys writes a tenant's current and previous public keys.
	SetTenantKeys(ctx context.Context, t usher.Tenant) error
	TenantHasUsers(ctx context.Context, id string) (bool, error)
	// DeleteTenant deletes a tenant and all of its users, sessions, codes
	// and queued email.
	DeleteTenant(ctx context.Context, id string) error

	// PutCode stores c, replacing the user's code of the same kind.
	PutCode(ctx context.Context, c usher.UserCode) error
	// Code returns the user's code of a kind (expired or not).
	Code(ctx context.Context, userID string, kind usher.CodeKind) (usher.UserCode, error)
	// LockCode is Code, holding the row until the transaction ends.
	LockCode(ctx context.Context, userID string, kind usher.CodeKind) (usher.UserCode, error)
	SetCodeTries(ctx context.Context, userID string, kind usher.CodeKind, tries int) error
	DeleteCodes(ctx context.Context, userID string, kinds ...usher.CodeKind) error

	// Count adds one to the fixed-window counter key and returns its value;
	// a window that started before windowStart restarts at now.
	Count(ctx context.Context, key string, now, windowStart time.Time) (int, error)
	// ClearCount deletes the counter key.
	ClearCount(ctx context.Context, key string) error
	// ClearCounts deletes every counter whose key starts with prefix.
	ClearCounts(ctx context.Context, prefix string) error
	// AppendEvent writes an event to the audit log, with a pending
	// delivery for each webhook endpoint of its tenant that takes it.
	AppendEvent(ctx context.Context, e usher.Event) error
	CreateWebhook(ctx context.Context, w usher.Webhook) error
	DeleteWebhook(ctx context.Context, tenantID, id string) error
	// Enqueue adds a message to the outbox.
	Enqueue(ctx context.Context, m usher.Message, now time.Time) error

	// CreateAdmin inserts a console admin; a taken email key is
	// usher.EmailTaken.
	CreateAdmin(ctx context.Context, a usher.Admin) error
	LockAdmin(ctx context.Context, id string) (usher.Admin, error)
	// LockAdminBySetup reads the admin whose setup link has hash.
	LockAdminBySetup(ctx context.Context, hash string) (usher.Admin, error)
	UpdateAdmin(ctx context.Context, a usher.Admin) error
	// DeleteAdmin deletes an admin and its console sessions.
	DeleteAdmin(ctx context.Context, id string) error
	CountAdmins(ctx context.Context) (int, error)
	CreateAdminSession(ctx context.Context, x usher.AdminSession) error
	DeleteAdminSession(ctx context.Context, hash string) error
	DeleteAdminSessions(ctx context.Context, adminID string) error
	// RetryMessage makes a tenant's pending message due at now (NotFound:
	// none).
	RetryMessage(ctx context.Context, tenantID, id string, now time.Time) error
	// DiscardMessage deletes a tenant's unsent message (NotFound: none).
	DiscardMessage(ctx context.Context, tenantID, id string) error
}

// Store is the storage Usher runs on.
type Store interface {
	Reader
	// Update runs fn in one write transaction, committed when fn returns
	// nil. fn's ctx is Update's, bounded by the store's operation timeout:
	// every Tx call in fn takes it. A transaction that lost a conflict runs
	// fn again: fn must set every result it reports afresh on each run.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// EnsureTenant creates t if no tenant has its id and returns the tenant
	// as stored.
	EnsureTenant(ctx context.Context, t usher.Tenant) (usher.Tenant, error)
}
