package usher

import "time"

// CodeKind names what a UserCode is for.
type CodeKind string

// The kinds of code.
const (
	ResetCode  CodeKind = "reset"  // password reset code, stored as a SHA-256
	VerifyCode CodeKind = "verify" // email verification token, stored sealed
	MFACode    CodeKind = "mfa"    // a sign-in waiting for its second factor, stored as a SHA-256
)

// UserCode is a one-time secret sent by email (a reset code or a
// verification token), bound to a user and a kind; a user has at most one
// of each kind. Secret is never the plain value: a hash (reset) or a sealed
// token (verify).
type UserCode struct {
	UserID    string
	TenantID  string
	Kind      CodeKind
	Secret    string
	Tries     int
	CreatedAt time.Time
	ExpiresAt time.Time
}
