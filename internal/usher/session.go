package usher

import "time"

// Session is one login. A token is valid only while its session exists.
type Session struct {
	ID        string
	TenantID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Code purposes.
const (
	PurposeReset  = "reset"  // password reset code, stored as a SHA-256
	PurposeVerify = "verify" // email verification token, stored sealed
)

// Ticket is a one-time secret (a reset code or a verification token) bound
// to a user and a purpose. Secret is never the plain value: a hash (reset)
// or a sealed token (verify).
type Ticket struct {
	UserID    string
	TenantID  string
	Purpose   string
	Secret    string
	Tries     int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Message kinds: each names a template.
const (
	MailReset           = "password_reset"
	MailPasswordChanged = "password_changed"
	MailVerify          = "verify_email"
)

// Message is an email waiting in the outbox. Params is sealed: it may hold
// a code or a link, and is wiped once the message is sent or abandoned.
type Message struct {
	ID       string
	TenantID string
	Kind     string
	To       string
	Params   string
	Attempts int
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

// MailParams are the values a message's template needs. They are stored
// sealed (Message.Params) and never rendered anywhere but in the email.
type MailParams struct {
	Email string `json:"email"`
	Code  string `json:"code,omitempty"`  // password reset code
	Token string `json:"token,omitempty"` // email verification token
}
