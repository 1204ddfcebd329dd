package account

import (
	"context"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// Reader reads users. Every method returns a usher.NotFound error for a
// user that does not exist.
type Reader interface {
	UserByID(ctx context.Context, tenantID, id string) (usher.User, error)
	UserByEmail(ctx context.Context, tenantID, emailKey string) (usher.User, error)
}

// Tx is one write transaction.
type Tx interface {
	Reader
	// LockUser reads a user and holds it against concurrent writers until
	// the transaction ends.
	LockUser(ctx context.Context, tenantID, id string) (usher.User, error)
	// CreateUser inserts u; a taken email key is a usher.EmailTaken error.
	CreateUser(ctx context.Context, u *usher.User) error
	// UpdateUser writes u's mutable fields (email, key, hash, flags, data,
	// updated_at); a taken email key is a usher.EmailTaken error.
	UpdateUser(ctx context.Context, u *usher.User) error
	DeleteUser(ctx context.Context, tenantID, id string) error
	// RecordCheck records the outcome of a password check for lockout: a
	// failure counts in the window that starts at windowStart (a failure
	// before it starts a new window at now); a success clears the count.
	RecordCheck(ctx context.Context, tenantID, id string, failed bool, now, windowStart time.Time) error
}

// Store is the storage Usher runs on.
type Store interface {
	Reader
	// Update runs fn in one write transaction, committed when fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}
