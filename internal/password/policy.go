package password

import (
	"fmt"
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
	}
	return nil
}
