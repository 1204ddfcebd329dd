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
