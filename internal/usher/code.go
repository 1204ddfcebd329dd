package usher

import "time"

// CodeKind names what a UserCode is for.
type CodeKind string

// The kinds of code.
const (
	ResetCode  CodeKind = "reset"  // password reset code, stored as a SHA-256
	VerifyCode CodeKind = "verify" // email verification token, stored sealed
	MFACode    CodeKind = "mfa"    // a sign-in waiting for its second factor, stored as a SHA-256
	// EmailChangeCode is a pending change of a user's own address: the
	// link token and the new address, stored sealed together.
	EmailChangeCode CodeKind = "email_change"
)

// UserCode is a one-time secret sent by email (a reset code, a
// verification or email-change token), bound to a user and a kind; a user
// has at most one of each kind. Secret is never the plain value: a hash
// (reset) or a sealed token (verify, email change).
type UserCode struct {
	UserID    string
	TenantID  string
	Kind      CodeKind
	Secret    string
	Tries     int
	CreatedAt time.Time
	ExpiresAt time.Time
}
