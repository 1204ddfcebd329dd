package usher

import "time"

// Admin is an operator of the console: an account of its own, not a user
// of any tenant.
type Admin struct {
	ID       string
	Email    string
	EmailKey string
	Hash     string // argon2id PHC string; "" until the setup link is used
	// TOTPSecret is sealed with the data key; "" when no second factor.
	TOTPSecret    string
	TOTPConfirmed bool
	TOTPStep      int64 // the time step of the last accepted code
	// SetupHash is the SHA-256 of the one-time setup link's token ("" when
	// none is outstanding); the link dies at SetupExpires.
	SetupHash    string
	SetupExpires time.Time
	FailedChecks int
	FailedSince  time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AdminSession is a signed-in console session. Only the SHA-256 of its
// cookie's token is stored.
type AdminSession struct {
	Hash      string
	AdminID   string
	CSRF      string // the token every state-changing request must carry
	CreatedAt time.Time
	SeenAt    time.Time // the idle expiry counts from here
	ExpiresAt time.Time // absolute expiry
}
