package password

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Policy is the rule a new password must meet. Lengths count Unicode code
// points; the password is taken exactly as given (no trimming).
type Policy struct {
	Min int
	Max int
	// AllowCommon turns off the refusal of the most common passwords.
	AllowCommon bool
}

// Violation says why a password is refused, in words safe to show the user.
type Violation string

func (v Violation) Error() string { return string(v) }

// Check returns nil for an acceptable password or a Violation. It runs before
// any hashing, and its cost is bounded by the request body limit.
func (p Policy) Check(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < p.Min:
		return Violation(fmt.Sprintf("Password must be at least %d characters long.", p.Min))
	case n > p.Max:
		return Violation(fmt.Sprintf("Password must be at most %d characters long.", p.Max))
	case !p.AllowCommon && IsCommon(password):
		return Violation("This password is one of the most commonly used passwords; choose another.")
	case LooksLikeHash(password):
		return Violation("A password hash cannot be a password; send the password itself.")
	}
	return nil
}

// LooksLikeHash reports whether s has the shape of a stored password hash
// (a PHC or modular-crypt string: "$argon2id$…", "$2b$…", "$scrypt$…",
// "$pbkdf2-sha256$…"). Such a string is never taken as a new password: a
// client that sends back the hash it read would otherwise set the hash
// string itself as the password.
func LooksLikeHash(s string) bool {
	if len(s) < 30 || s[0] != '$' || strings.Count(s, "$") < 3 {
		return false
	}
	id, _, ok := strings.Cut(s[1:], "$")
	if !ok || id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
