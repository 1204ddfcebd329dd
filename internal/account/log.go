package account

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// EventQuery selects a page of the audit log. Zero fields select all.
type EventQuery struct {
	Limit  int    // 0: DefaultPageSize
	Cursor string // the previous page's Next
	UserID string
	Types  []string
	After  time.Time // exclusive
	Before time.Time // exclusive
}

// EventPage is one page of the audit log, oldest first.
type EventPage struct {
	Events []usher.Event
	Next   string // "" on the last page
}

// Events returns a page of a tenant's audit log, oldest first. Pages are
// read by cursor (the last event's id), as users are.
func (s *Service) Events(ctx context.Context, tenantID string, in EventQuery) (EventPage, error) {
	q := usher.EventQuery{TenantID: tenantID, Limit: in.Limit, UserID: in.UserID}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultPageSize
	case q.Limit < 1 || q.Limit > MaxPageSize:
		return EventPage{}, usher.Errorf(usher.Invalid, "limit must be between 1 and %d.", MaxPageSize)
	}
	if q.UserID != "" && !usher.ValidID(q.UserID) {
		return EventPage{}, usher.Errorf(usher.Invalid, "user must be a user id.")
	}
	for _, t := range in.Types {
		if !slices.Contains(AuditTypes, t) {
			return EventPage{}, usher.Errorf(usher.Invalid, "Unknown event type %q.", shortened(t))
		}
	}
	q.Types = in.Types
	if in.Cursor != "" {
		if !usher.ValidID(in.Cursor) {
			return EventPage{}, usher.Errorf(usher.Invalid, "The cursor is not one this listing gave.")
		}
		q.AfterID = in.Cursor
	}
	if !in.After.IsZero() {
		q.MinID = usher.FirstIDAt(in.After.Add(time.Millisecond))
	}
	if !in.Before.IsZero() {
		q.MaxID = usher.FirstIDAt(in.Before)
	}
	q.Limit++
	events, err := s.c.Store.Events(ctx, q)
	if err != nil {
		return EventPage{}, err
	}
	p := EventPage{Events: events}
	if len(events) == q.Limit {
		p.Events = events[:len(events)-1]
		p.Next = p.Events[len(p.Events)-1].ID
	}
	return p, nil
}

// shortened cuts what a client sent to a length safe to echo.
func shortened(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// pruneBatch is how many events one delete of the retention job removes.
const pruneBatch = 1000

// PruneEvents deletes the audit log's events older than before, a batch
// at a time, and returns how many it deleted.
func (s *Service) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := s.c.Store.PruneEvents(ctx, usher.FirstIDAt(before), pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// KeyRotated records that a new token signing key was added (kid names
// it; the key itself is never recorded). Signing keys serve every tenant:
// the event goes to the default tenant's log.
func (s *Service) KeyRotated(ctx context.Context, kid string) error {
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		return s.audit(ctx, tx, usher.DefaultTenantID, AuditKeyRotated, "", detail{"kid": kid})
	})
}

// UsersExported records that count users of a tenant were downloaded (the
// console's export): the data left Usher, and the log says who took it.
func (s *Service) UsersExported(ctx context.Context, tenantID string, count int) error {
	return s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		return s.audit(ctx, tx, tenantID, AuditUserExported, "", detail{"count": count})
	})
}
