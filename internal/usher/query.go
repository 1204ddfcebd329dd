package usher

import "time"

// UserQuery selects a page of a tenant's users in creation order (created
// time, then id). Zero fields select everything.
type UserQuery struct {
	TenantID      string
	EmailContains string // a substring of the email key (lower case)
	Enabled       *bool
	Confirmed     *bool
	// Locked selects users that are (true) or are not (false) locked out
	// for every address: at least LockedMin failures since after
	// LockedSince.
	Locked        *bool
	LockedMin     int
	LockedSince   time.Time
	CreatedAfter  time.Time // exclusive
	CreatedBefore time.Time // exclusive
	After         *UserCursor
	Limit         int
}

// UserCursor is a position in the creation order: the users after it come
// after (CreatedAt, ID).
type UserCursor struct {
	CreatedAt time.Time
	ID        string
}
