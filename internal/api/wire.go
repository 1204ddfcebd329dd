package api

import (
	"encoding/json"
	"net/http"

	"github.com/usherhq/usher/internal/usher"
)

// User is the native wire form of a user (backend surface, public
// verification links). It has no password or hash field.
type User struct {
	ID        string          `json:"id"`
	Email     string          `json:"email"`
	Confirmed bool            `json:"confirmed"`
	Enabled   bool            `json:"enabled"`
	Data      json.RawMessage `json:"data"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// TimeFormat is how native bodies write times: RFC 3339 in UTC, with
// milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// UserOf returns the wire form of u.
func UserOf(u usher.User) User {
	return User{
		ID: u.ID, Email: u.Email, Confirmed: u.Confirmed, Enabled: u.Enabled, Data: u.Data,
		CreatedAt: u.CreatedAt.UTC().Format(TimeFormat), UpdatedAt: u.UpdatedAt.UTC().Format(TimeFormat),
	}
}

// SuccessPage is GET /verify/success on the public and Thunder surfaces:
// the page a verification link lands on. Its markup is Thunder's shape, so
// that the text of its div > div element is exactly Thunder's sentence.
func SuccessPage(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte(successHTML))
	return err
}

const successHTML = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Account verified</title></head>
<body style="font-family: sans-serif; margin: 4em auto; max-width: 32em">
<div role="alert" style="padding: 1em; border: 1px solid #9c9; border-radius: 0.4em; background: #efe">
<div align="center"><strong>Success!</strong> Your account has been verified.</div>
</div>
</body>
</html>
`

// Session is the native wire form of a session (the backend's user
// sessions, the public API's own sessions).
type Session struct {
	ID         string  `json:"id"`
	CreatedAt  string  `json:"created_at"`
	ExpiresAt  string  `json:"expires_at"`
	LastUsedAt *string `json:"last_used_at"`
	Surface    string  `json:"surface"`
	ClientIP   string  `json:"client_ip"`
	UserAgent  string  `json:"user_agent"`
	Current    *bool   `json:"current,omitempty"` // the public API: the session the request came with
}

// SessionOf returns the wire form of s.
func SessionOf(s usher.Session) Session {
	out := Session{
		ID: s.ID, CreatedAt: s.CreatedAt.UTC().Format(TimeFormat), ExpiresAt: s.ExpiresAt.UTC().Format(TimeFormat),
		Surface: s.Surface, ClientIP: s.ClientIP, UserAgent: s.UserAgent,
	}
	if !s.LastUsedAt.IsZero() {
		t := s.LastUsedAt.UTC().Format(TimeFormat)
		out.LastUsedAt = &t
	}
	return out
}
