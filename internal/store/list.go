package store

import (
	"context"
	"database/sql"
	"errors"
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
	w.add(s.tenantIs("?"), s.id(q.TenantID))
	if q.EmailContains != "" {
		w.add(`email_key LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(q.EmailContains)+"%")
	}
	if q.Enabled != nil {
		// Written out, not bound: a planner can then match the disabled
		// users' index (its condition is NOT enabled).
		if *q.Enabled {
			w.add("enabled")
		} else {
			w.add("NOT enabled")
		}
	}
	if q.Confirmed != nil {
		w.add("confirmed = ?", *q.Confirmed)
	}
	if q.Locked != nil {
		locked := "(failed_checks >= ? AND failed_since > ?)"
		if !*q.Locked {
			locked = "NOT " + locked
		} else if q.LockedMin > 0 {
			// Implied by the bound, and written out so that a planner
			// matches the index of users with failures.
			locked = "failed_checks > 0 AND " + locked
		}
		w.add(locked, q.LockedMin, millis(q.LockedSince))
	}
	s.addCreated(w, q)
	return w
}

// addCreated adds the query's creation-time bounds.
func (s *Store) addCreated(w *where, q usher.UserQuery) {
	if !q.CreatedAfter.IsZero() {
		w.add("created_at > ?", millis(q.CreatedAfter))
	}
	if !q.CreatedBefore.IsZero() {
		w.add("created_at < ?", millis(q.CreatedBefore))
	}
}

// addCursor adds the query's cursor: the users after it.
func (s *Store) addCursor(w *where, q usher.UserQuery) {
	if q.After != nil {
		w.add("(created_at, id) > (?, ?)", millis(q.After.CreatedAt), s.id(q.After.ID))
	}
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListUsers returns a page of users in creation order. The cursor is a
// position in the (tenant_id, created_at, id) index, so a page costs the
// same wherever it is, and users created or deleted between two pages
// move no other user across the cursor.
//
// A search by email substring reads at most a window of users from the
// cursor on, in creation order: a substring that many users share fills
// the page there. When the page is still short at the window's end, the
// matches are rare, and reading on in creation order could read every
// user; the search then finds the rest in the (tenant_id, email_key)
// index instead (a third of the table's bytes, never the rows), reads
// only the matching rows, and orders those. (On PostgreSQL the planner
// makes that choice from the table's statistics.)
func (s *Store) ListUsers(ctx context.Context, q usher.UserQuery) ([]usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if q.EmailContains == "" || s.d.EmailIndex == "" {
		return s.listInOrder(ctx, q, nil)
	}
	window := s.searchWindow
	if window <= 0 {
		window = DefaultSearchWindow
	}
	end, err := s.windowEnd(ctx, q, window)
	if err != nil {
		return nil, err
	}
	page, err := s.listInOrder(ctx, q, end)
	if err != nil || end == nil || len(page) == q.Limit {
		return page, err
	}
	rest := q
	rest.After, rest.Limit = end, q.Limit-len(page)
	more, err := s.listByEmail(ctx, rest)
	if err != nil {
		return nil, err
	}
	return append(page, more...), nil
}

// DefaultSearchWindow is how many users, from its cursor on, an email
// substring search reads in creation order before it turns to the email
// index: a substring one user in 400 shares fills a page of 50 within it.
// At a million users, reading the window costs a fraction of a scan of
// the whole index (BENCHMARKS.md, "Searching a million users").
const DefaultSearchWindow = 20000

// SetSearchWindow changes the search window (tests use a small one to
// reach both ways of searching); 0 restores the default.
func (s *Store) SetSearchWindow(n int) { s.searchWindow = n }

// windowEnd returns the position of the window-th user after the cursor
// (within the creation-time bounds), or nil when there are fewer. It
// reads the (tenant_id, created_at, id) index alone.
func (s *Store) windowEnd(ctx context.Context, q usher.UserQuery, window int) (*usher.UserCursor, error) {
	w := &where{}
	w.add(s.tenantIs("?"), s.id(q.TenantID))
	s.addCreated(w, q)
	s.addCursor(w, q)
	w.args = append(w.args, window-1)
	var ms int64
	var id string
	err := s.r.QueryRowContext(ctx, `SELECT created_at, id FROM users WHERE `+w.String()+
		` ORDER BY created_at, id LIMIT 1 OFFSET $`+strconv.Itoa(len(w.args)), s.replan(w.args)...).Scan(&ms, idDest{&id})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	return &usher.UserCursor{CreatedAt: fromMillis(ms), ID: id}, nil
}

// listInOrder reads users in creation order from the cursor on, up to
// and including upTo when it is set, and returns the first of them the
// query selects.
func (s *Store) listInOrder(ctx context.Context, q usher.UserQuery, upTo *usher.UserCursor) ([]usher.User, error) {
	w := s.userWhere(q)
	if upTo != nil {
		w.add("(created_at, id) <= (?, ?)", millis(upTo.CreatedAt), s.id(upTo.ID))
	}
	return s.page(ctx, `SELECT `+s.sql.cols+` FROM users`, w, q)
}

// listByEmail finds the users whose email key holds the substring in the
// (tenant_id, email_key) index, then reads those rows alone (a CROSS JOIN
// keeps that order on SQLite) and orders them. userWhere numbers the
// tenant $1 and the pattern $2.
func (s *Store) listByEmail(ctx context.Context, q usher.UserQuery) ([]usher.User, error) {
	return s.page(ctx, `SELECT `+s.sql.colsU+` FROM (SELECT id AS match_id FROM users`+s.d.EmailIndex+
		` WHERE `+s.tenantIs("$1")+` AND email_key LIKE $2 ESCAPE '\') AS m CROSS JOIN users u ON u.id = m.match_id`,
		s.userWhere(q), q)
}

// page runs selectFrom with w and the query's cursor, in creation order,
// and returns at most the query's limit of users. The columns w names
// are the users' own (no other table in selectFrom has them).
func (s *Store) page(ctx context.Context, selectFrom string, w *where, q usher.UserQuery) ([]usher.User, error) {
	s.addCursor(w, q)
	rows, err := s.r.QueryContext(ctx, selectFrom+` WHERE `+w.String()+
		` ORDER BY created_at, id`+limit(q.Limit), s.replan(w.args)...)
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
