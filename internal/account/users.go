package account

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/usherhq/usher/internal/usher"
)

// List limits.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
	maxQueryLen     = 254
)

// ListQuery selects a page of users. Zero fields select everything.
type ListQuery struct {
	Limit         int    // 0: DefaultPageSize
	Cursor        string // from the previous Page; "" for the first page
	Email         string // a case-insensitive substring of the email
	Enabled       *bool
	Confirmed     *bool
	Locked        *bool // locked out for every address now
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Count         bool // also count every user the query selects
}

// Page is one page of users.
type Page struct {
	Users []usher.User
	Next  string // the cursor of the next page; "" on the last
	Total *int   // when asked for
}

var errCursor = usher.Errorf(usher.Invalid, "The cursor is not one this listing gave.")

// encodeCursor writes a position as 24 bytes (time, id), base64url.
func encodeCursor(c usher.UserCursor) string {
	id, _ := usher.ParseID(c.ID)
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.CreatedAt.UnixMilli()))
	copy(b[8:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func decodeCursor(s string) (*usher.UserCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24 {
		return nil, errCursor
	}
	return &usher.UserCursor{
		CreatedAt: time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]))).UTC(),
		ID:        usher.FormatID([16]byte(b[8:])),
	}, nil
}

// ListUsers returns a page of a tenant's users in creation order. Pages
// are read by cursor, never by offset: any page costs what the first one
// does, and users created or deleted meanwhile neither repeat nor hide
// another user. An email filter reads through the order until the page is
// full, so a rare substring costs a scan.
func (s *Service) ListUsers(ctx context.Context, tenantID string, in ListQuery) (Page, error) {
	q := usher.UserQuery{
		TenantID: tenantID, Enabled: in.Enabled, Confirmed: in.Confirmed,
		CreatedAfter: in.CreatedAfter, CreatedBefore: in.CreatedBefore, Limit: in.Limit,
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit < 1 || q.Limit > MaxPageSize:
		return Page{}, usher.Errorf(usher.Invalid, "limit must be between 1 and %d.", MaxPageSize)
	}
	if len(in.Email) > maxQueryLen {
		return Page{}, usher.Errorf(usher.Invalid, "The email filter is longer than %d characters.", maxQueryLen)
	}
	if !utf8.ValidString(in.Email) || strings.IndexFunc(in.Email, unicode.IsControl) >= 0 {
		return Page{}, usher.Errorf(usher.Invalid, "The email filter must be text without control characters.")
	}
	// Keys are lower case and NFC, as this is; an internationalised domain
	// is kept in its xn-- form, which is what a filter on it must name.
	q.EmailContains = norm.NFC.String(strings.ToLower(strings.TrimSpace(in.Email)))
	if in.Locked != nil {
		now := s.c.Now().UTC()
		q.Locked, q.LockedMin, q.LockedSince = in.Locked, s.c.Lockout.accountMax(), now.Add(-s.c.Lockout.Window)
		if s.c.Lockout.Max <= 0 { // lockout off: nobody is locked
			q.LockedMin = math.MaxInt32 // more failures than the column holds
		}
	}
	if in.Cursor != "" {
		c, err := decodeCursor(in.Cursor)
		if err != nil {
			return Page{}, err
		}
		q.After = c
	}
	// One more than the page tells whether there is a next one.
	q.Limit++
	users, err := s.c.Store.ListUsers(ctx, q)
	if err != nil {
		return Page{}, err
	}
	p := Page{Users: users}
	if len(users) == q.Limit {
		p.Users = users[:len(users)-1]
		last := p.Users[len(p.Users)-1]
		p.Next = encodeCursor(usher.UserCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	if in.Count {
		n, err := s.c.Store.CountUsers(ctx, q)
		if err != nil {
			return Page{}, err
		}
		p.Total = &n
	}
	return p, nil
}

// UserByEmail returns the user with an address, compared as everywhere
// else (case, Unicode normalisation, IDNA).
func (s *Service) UserByEmail(ctx context.Context, tenantID, email string) (usher.User, error) {
	_, key, err := NormalizeEmail(email)
	if err != nil {
		return usher.User{}, err
	}
	return s.c.Store.UserByEmail(ctx, tenantID, key)
}

// LockedUntil returns when u's lockout for every address ends, or zero when
// u is not locked out now.
func (s *Service) LockedUntil(u usher.User) time.Time {
	now := s.c.Now().UTC()
	if !s.locked(u, now) {
		return time.Time{}
	}
	return u.FailedSince.Add(s.c.Lockout.Window)
}

// Unlock clears u's lockout: the account-wide count and every address's
// count of its current password.
func (s *Service) Unlock(ctx context.Context, tenantID, id string) error {
	if !usher.ValidID(id) {
		return errNotFound
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		u, err := tx.LockUser(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := tx.ClearCounts(ctx, lockPrefix(u)); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, tenantID, AuditLockoutCleared, id, nil); err != nil || u.FailedChecks == 0 {
			return err
		}
		u.FailedChecks, u.FailedSince = 0, time.Time{}
		return tx.UpdateUser(ctx, &u)
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "lockout cleared", "event", "lockout_cleared", "user_id", id)
	}
	return err
}

// Sessions returns a user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, tenantID, userID string) ([]usher.Session, error) {
	if _, err := s.User(ctx, tenantID, userID); err != nil {
		return nil, err
	}
	return s.c.Store.Sessions(ctx, tenantID, userID, s.c.Now().UTC())
}

// EndSessions ends every session of a user.
func (s *Service) EndSessions(ctx context.Context, tenantID, userID string) error {
	if !usher.ValidID(userID) {
		return errNotFound
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockUser(ctx, tenantID, userID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(ctx, tenantID, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditSessionEnded, userID, detail{"all": true})
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "sessions ended", "event", "sessions_ended", "user_id", userID)
	}
	return err
}

var errNoSession = usher.Errorf(usher.NotFound, "Session not found.")

// EndSession ends one session of a user.
func (s *Service) EndSession(ctx context.Context, tenantID, userID, sessionID string) error {
	if !usher.ValidID(userID) {
		return errNotFound
	}
	if !usher.ValidID(sessionID) {
		return errNoSession
	}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.UserByID(ctx, tenantID, userID); err != nil {
			return err
		}
		if err := tx.DeleteUserSession(ctx, tenantID, userID, sessionID); err != nil {
			return err
		}
		return s.audit(ctx, tx, tenantID, AuditSessionEnded, userID, detail{"session_id": sessionID})
	})
	if err == nil {
		s.c.Log.InfoContext(ctx, "session ended", "event", "session_ended", "user_id", userID, "session_id", sessionID)
	}
	return err
}
