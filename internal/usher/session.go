package usher

import "time"

// Session is one login. A token is valid only while its session exists.
type Session struct {
	ID        string
	TenantID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time

	// What an operator sees of where the session came from.
	LastUsedAt time.Time // zero until first used; refreshed every few minutes
	Surface    string    // the surface that started it ("public")
	ClientIP   string
	UserAgent  string
}

// SigningKey is a token signing key. Private is sealed with the data key.
type SigningKey struct {
	KID       string
	Algorithm string
	Public    string // base64url of the raw public key
	Private   string // sealed private key
	CreatedAt time.Time
	RetiredAt time.Time // zero while the key may sign
}
