package usher

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, snake_case error code that clients may branch on.
type Code string

// The error codes. Each maps to one HTTP status in internal/api.
const (
	Invalid         Code = "invalid_request"        // 400, generic bad input
	InvalidJSON     Code = "invalid_json"           // 400
	InvalidEmail    Code = "invalid_email"          // 400
	InvalidPassword Code = "invalid_password"       // 400
	InvalidData     Code = "invalid_data"           // 400
	InvalidCode     Code = "invalid_code"           // 400, a wrong, expired or used code
	Unauthorized    Code = "unauthorized"           // 401
	MFARequired     Code = "mfa_required"           // 401, the password was right; a second factor is next
	Forbidden       Code = "forbidden"              // 403, a request refused whoever sends it (a failed CSRF check)
	NotFound        Code = "not_found"              // 404
	MethodNotAllow  Code = "method_not_allowed"     // 405
	EmailTaken      Code = "email_taken"            // 409
	Conflict        Code = "conflict"               // 409, another state forbids the change
	TooLarge        Code = "body_too_large"         // 413
	MediaType       Code = "unsupported_media_type" // 415
	RateLimited     Code = "rate_limited"           // 429
	Internal        Code = "internal_error"         // 500
	Unavailable     Code = "unavailable"            // 503, the database or the password hashing process cannot be reached
	Overloaded      Code = "overloaded"             // 503, password hashing capacity exhausted
)

// Error is the domain error. Message is safe to show to a client; Err is the
// internal cause, which is logged and never rendered.
type Error struct {
	Code    Code
	Message string
	Err     error
	// RetryAfter tells a client when to try again (429, 503); zero means
	// the default of one second.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with a formatted safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with code and message whose internal cause is err.
func Wrap(code Code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// RetryAfter returns the RetryAfter of the first *Error in err's chain.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorCode returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the safe message of err, or a generic one for errors
// that are not *Error (their text may hold internal detail).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "An internal error occurred."
}
