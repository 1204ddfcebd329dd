package usher

import (
	"encoding/json"
	"time"
)

// Message kinds: each names a template.
const (
	MailReset           = "password_reset"
	MailPasswordChanged = "password_changed"
	MailVerify          = "verify_email"
	// MailEmailChange goes to the new address of a requested email change,
	// with the link that applies it.
	MailEmailChange = "email_change"
	// MailEmailChangeRequested tells the old address that a change was
	// asked; it carries no link.
	MailEmailChangeRequested = "email_change_requested"
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

// MailParams are the values a message's template needs. They are stored
// sealed (Message.Params) and never rendered anywhere but in the email.
type MailParams struct {
	Email string `json:"email"`
	Code  string `json:"code,omitempty"`  // password reset code
	Token string `json:"token,omitempty"` // email verification or email-change token
	// Tenant names the user's tenant in links, when it is not the default.
	Tenant string `json:"tenant,omitempty"`
}

// Sealer encrypts small values at rest, each bound to a context label that
// must be given again to open it (token.Box is one).
type Sealer interface {
	Seal(plain []byte, context string) string
	Open(sealed, context string) ([]byte, error)
}

// sealContext binds a message's sealed params to the message: params copied
// onto another row cannot be opened there.
func (m *Message) sealContext() string { return "outbox:" + m.ID }

// SealParams stores p in m.Params, sealed; m.ID must be set.
func (m *Message) SealParams(s Sealer, p MailParams) {
	raw, _ := json.Marshal(p) // strings only: cannot fail
	m.Params = s.Seal(raw, m.sealContext())
}

// OpenParams returns the params that SealParams stored in m.
func (m *Message) OpenParams(s Sealer) (MailParams, error) {
	var p MailParams
	raw, err := s.Open(m.Params, m.sealContext())
	if err != nil {
		return p, err
	}
	err = json.Unmarshal(raw, &p)
	return p, err
}

// QueuedMessage is an outbox row as an operator sees it: never its
// contents (sealed parameters hold codes and tokens).
type QueuedMessage struct {
	ID            string
	TenantID      string
	Kind          string
	To            string
	Status        string // pending, abandoned
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

// Email queue states an operator lists: pending (never tried, or not yet
// failed), failed (pending again after a failed attempt) and abandoned.
const (
	QueuePending   = "pending"
	QueueFailed    = "failed"
	QueueAbandoned = "abandoned"
)

// EventCount is how many events of a type fell in one time bucket.
type EventCount struct {
	Type   string
	Bucket time.Time // the bucket's start
	Count  int
}
