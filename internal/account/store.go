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
	// SessionUser returns the user of a live (existing, unexpired) session.
	SessionUser(ctx context.Context, tenantID, sessionID, userID string, now time.Time) (usher.User, error)
	// TenantByKey returns the tenant whose public key is key.
	TenantByKey(ctx context.Context, key string) (usher.Tenant, error)
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

	CreateSession(ctx context.Context, s usher.Session) error
	DeleteSession(ctx context.Context, tenantID, id string) error
	DeleteSessions(ctx context.Context, tenantID, userID string) error

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
	// Enqueue adds a message to the outbox.
	Enqueue(ctx context.Context, m usher.Message, now time.Time) error
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
