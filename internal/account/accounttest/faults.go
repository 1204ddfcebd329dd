package accounttest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// ErrDown is what a Faults store answers while it is Down: the error the
// stores return when the database does not answer.
var ErrDown = usher.Wrap(usher.Unavailable, "The database is unavailable; try again shortly.", errors.New("dial tcp: connection refused"))

// ErrBroken is what a Faults store answers while it is Broken: an error the
// stores do not expect, so it carries no code.
var ErrBroken = errors.New("sqlite: disk I/O error at /var/lib/usher")

// Faults is an account.Store that reads users (UserByID, UserByEmail
// outside a transaction) as a failing database does while a switch is on,
// and otherwise passes every call to the store it wraps. Install it with
// WithFaults; the switches may be flipped while the Service runs.
type Faults struct {
	account.Store
	Down   atomic.Bool // reads of users answer ErrDown
	Broken atomic.Bool // reads of users answer ErrBroken (Down wins)
}

// WithFaults returns an option for New that puts f in front of the store.
func WithFaults(f *Faults) func(*account.Config) {
	return func(c *account.Config) {
		f.Store = c.Store
		c.Store = f
	}
}

// UserByID answers as the wrapped store does, unless a switch is on.
func (f *Faults) UserByID(ctx context.Context, tenantID, id string) (usher.User, error) {
	if err := f.fault(); err != nil {
		return usher.User{}, err
	}
	return f.Store.UserByID(ctx, tenantID, id)
}

// UserByEmail answers as the wrapped store does, unless a switch is on.
func (f *Faults) UserByEmail(ctx context.Context, tenantID, key string) (usher.User, error) {
	if err := f.fault(); err != nil {
		return usher.User{}, err
	}
	return f.Store.UserByEmail(ctx, tenantID, key)
}

// fault returns the error the switches call for, or nil.
func (f *Faults) fault() error {
	switch {
	case f.Down.Load():
		return ErrDown
	case f.Broken.Load():
		return ErrBroken
	}
	return nil
}
