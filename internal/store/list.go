package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/usherhq/usher/internal/usher"
)

// where builds the WHERE clause of a user query (without its cursor and
// limit) and its arguments, numbered from $1.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

func (s *Store) userWhere(q usher.UserQuery) *where {
	w := &where{}
	w.add("tenant_id = ?", s.id(q.TenantID))
	if q.EmailContains != "" {
		w.add(`email_key LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(q.EmailContains)+"%")
	}
	if q.Enabled != nil {
		w.add("enabled = ?", *q.Enabled)
	}
	if q.Confirmed != nil {
		w.add("confirmed = ?", *q.Confirmed)
	}
	if q.Locked != nil {
		locked := "(failed_checks >= ? AND failed_since > ?)"
		if !*q.Locked {
			locked = "NOT " + locked
		}
		w.add(locked, q.LockedMin, millis(q.LockedSince))
	}
	if !q.CreatedAfter.IsZero() {
		w.add("created_at > ?", millis(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		w.add("created_at < ?", millis(q.CreatedBefore))
	}
	return w
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListUsers returns a page of users in creation order. The cursor is a
// position in the (tenant_id, created_at, id) index, so a page costs the
// same wherever it is, and users created or deleted between two pages
// move no other user across the cursor.
func (s *Store) ListUsers(ctx context.Context, q usher.UserQuery) ([]usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	w := s.userWhere(q)
	if q.After != nil {
		w.add("(created_at, id) > (?, ?)", millis(q.After.CreatedAt), s.id(q.After.ID))
	}
	w.args = append(w.args, q.Limit)
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+w.String()+
		` ORDER BY created_at, id LIMIT $`+strconv.Itoa(len(w.args)), s.replan(w.args)...)
	if err != nil {
		return nil, s.wrap(err)
	}
	return s.scanUsers(rows, make([]usher.User, 0, q.Limit))
}

// CountUsers counts the users a query selects, ignoring its cursor and
// limit. It reads every matching index entry: its cost grows with the
// count.
func (s *Store) CountUsers(ctx context.Context, q usher.UserQuery) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	w := s.userWhere(q)
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE `+w.String(), s.replan(w.args)...).Scan(&n)
	return n, s.wrap(err)
}
