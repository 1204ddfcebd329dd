// Package usher holds Usher's domain types: users, tenants, and the one error
// type every layer speaks. It imports only the standard library.
package usher

import (
	"encoding/json"
	"time"
)

// DefaultTenantID is the tenant created on first start. Surfaces without a
// tenant selector (the backend and Thunder surfaces) work in this tenant.
const DefaultTenantID = "00000000-0000-7000-8000-000000000001"

// User is one account in one tenant.
type User struct {
	ID        string
	TenantID  string
	Email     string // as the user gave it, trimmed
	EmailKey  string // normalised form that uniqueness is decided on
	Hash      string // password hash, a PHC string; never rendered outside Thunder's field
	Confirmed bool
	Enabled   bool
	Data      json.RawMessage // a compact JSON object, "{}" when empty
	CreatedAt time.Time
	UpdatedAt time.Time

	// FailedChecks counts password failures since FailedSince, for lockout.
	FailedChecks int
	FailedSince  time.Time // zero when FailedChecks is zero
}

// Tenant is one user pool. Emails are unique within a tenant.
type Tenant struct {
	ID        string
	Name      string
	PublicKey string
	CreatedAt time.Time
	// PreviousKey is the public key before the last rotation; it keeps
	// working until PreviousKeyUntil.
	PreviousKey      string
	PreviousKeyUntil time.Time
}

// AcceptsKey reports whether key is t's public key at now: its current key,
// or its previous one during the overlap after a rotation.
func (t Tenant) AcceptsKey(key string, now time.Time) bool {
	return key == t.PublicKey || key != "" && key == t.PreviousKey && now.Before(t.PreviousKeyUntil)
}
