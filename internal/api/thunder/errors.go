package thunder

import (
	"context"
	"errors"
	"net/http"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// Thunder's messages.
const (
	msgNullUser        = "Cannot post a null user."
	msgNoEmail         = "Cannot post a user without an email address."
	msgBadEmail        = "Invalid email address format. Please try again."
	msgBadProperties   = "Cannot post a user with invalid properties."
	msgBadEmailParam   = "Incorrect or missing email query parameter."
	msgBadTokenParam   = "Incorrect or missing verification token query parameter."
	msgBadToken        = "Incorrect verification token."
	msgNotFound        = "User not found in the database."
	msgConflict        = "A user with the same email address already exists."
	msgConflictUpdate  = "A user with the new email address already exists."
	msgUnavailable     = "Database is currently unavailable. Please try again later."
	msgNoCredentials   = "Credentials are required to access this resource."
	msgBadCredentials  = "Unable to validate user with provided credentials."
	msgBadJSON         = "Unable to process JSON."
	msgNoPassword      = "Cannot post a user without a password."
	msgInternal        = "The request failed for an unknown reason."
	msgOverloaded      = "The server is busy. Please try again later."
	msgTooLarge        = "The request body is too large."
	msgUnsupportedType = "Content-Type must be application/json."
	msgRateLimited     = "Too many requests. Please try again later."
)

// thunderError is an error in Thunder's words. Its code (of err) decides
// the status, by the rules every surface shares.
type thunderError struct {
	err  error   // a *usher.Error with the code; its cause is logged, never shown
	msg  string  // Thunder's message
	user *string // the user the message names; nil shows "null"
	bare bool    // the message alone, without "(User: …)"
}

func (e *thunderError) Error() string { return e.msg }
func (e *thunderError) Unwrap() error { return e.err }

// fail returns Thunder's error msg with code, naming user.
func fail(code usher.Code, msg string, user *string) error {
	return &thunderError{err: usher.Errorf(code, "%s", msg), msg: msg, user: user}
}

// say puts a use case's error in Thunder's words, naming user; update
// selects the messages of PUT /users.
func say(err error, user *string, update bool) error {
	return &thunderError{err: err, msg: message(err, update), user: user}
}

// message is Thunder's message for a domain error.
func message(err error, update bool) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return msgUnavailable // no domain code; the shared rules make it 503
	}
	switch usher.ErrorCode(err) {
	case usher.NotFound:
		return msgNotFound
	case usher.EmailTaken:
		if update {
			return msgConflictUpdate
		}
		return msgConflict
	case usher.InvalidEmail:
		if errors.Is(err, account.ErrAccessEmail) {
			return msgBadEmailParam
		}
		return msgBadEmail
	case usher.InvalidData:
		return msgBadProperties
	case usher.InvalidPassword:
		return "Cannot post a user with an invalid password: " + usher.ErrorMessage(err)
	case usher.InvalidCode:
		return msgBadToken
	case usher.InvalidJSON:
		return msgBadJSON
	case usher.Unauthorized:
		return msgBadCredentials
	case usher.TooLarge:
		return msgTooLarge
	case usher.MediaType:
		return msgUnsupportedType
	case usher.RateLimited:
		return msgRateLimited
	case usher.Unavailable:
		return msgUnavailable
	case usher.Overloaded:
		return msgOverloaded
	}
	return msgInternal
}

// Render writes an error as Thunder does: plain text
// "<message> (User: <email or null>)".
func Render(w http.ResponseWriter, _ *http.Request, status int, _ usher.Code, err error) {
	var te *thunderError
	if !errors.As(err, &te) {
		te = &thunderError{msg: message(err, false)}
	}
	text := te.msg
	if !te.bare {
		who := "null"
		if te.user != nil {
			who = *te.user
		}
		text += " (User: " + who + ")"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text))
}
