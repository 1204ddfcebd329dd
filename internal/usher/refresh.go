package usher

import "time"

// RefreshToken is one refresh token of a session, stored as the SHA-256 of
// the token. A token is used once: using it makes the next one (Next holds
// that one sealed, for a client that retries the same refresh at once).
type RefreshToken struct {
	Hash      string // hex SHA-256 of the token
	TenantID  string
	SessionID string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
	Next      string    // the next token, sealed; "" until used
}

// TOTP is a user's second factor: a secret (sealed with the data key),
// whether its first code confirmed it, and the time step of the last code
// accepted.
type TOTP struct {
	UserID    string
	TenantID  string
	Secret    string
	Confirmed bool
	LastStep  int64
	CreatedAt time.Time
}
