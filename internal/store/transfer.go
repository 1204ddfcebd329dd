package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/usherhq/usher/internal/usher"
)

// querier is what a read runs on: the reader pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// UsersByEmailKeys returns the users of a tenant that have one of keys.
func (s *Store) UsersByEmailKeys(ctx context.Context, tenantID string, keys []string) ([]usher.User, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.usersWhereIn(ctx, s.r, s.tenantIs("$1")+" AND ", []any{s.id(tenantID)}, "email_key", strs(keys), "")
}

func strs(v []string) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// usersWhereIn returns the users whose column is one of vals.
// suffix ends the query (a locking clause, or "").
func (s *Store) usersWhereIn(ctx context.Context, q querier, cond string, first []any, col string, vals []any, suffix string) ([]usher.User, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	args := append(first, vals...)
	var b strings.Builder
	b.WriteString(`SELECT ` + s.sql.cols + ` FROM users WHERE ` + cond + col + ` IN (`)
	for i := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.param(len(first) + i + 1))
	}
	b.WriteByte(')')
	b.WriteString(suffix)
	rows, err := q.QueryContext(ctx, b.String(), s.replan(args)...)
	if err != nil {
		return nil, s.wrap(err)
	}
	return s.scanUsers(rows, nil)
}

// UsersByEmailKeys returns the users of a tenant that have one of keys,
// held against concurrent writers until the transaction ends (an import
// may write them back).
func (t *tx) UsersByEmailKeys(ctx context.Context, tenantID string, keys []string) ([]usher.User, error) {
	return t.s.usersWhereIn(ctx, t.q, t.s.tenantIs("$1")+" AND ", []any{t.s.id(tenantID)}, "email_key", strs(keys), t.s.d.ForUpdate)
}

// UsersByIDs returns the users, of any tenant, that have one of ids.
func (t *tx) UsersByIDs(ctx context.Context, ids []string) ([]usher.User, error) {
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = t.s.id(id)
	}
	return t.s.usersWhereIn(ctx, t.q, "", nil, "id", vals, "")
}

// insertRows is how many users one INSERT statement writes. With named
// parameters ($N) SQLite's binding cost grows with the square of their
// number, which made 16 rows (192 parameters) the fastest; with
// positional ones (AnonymousParams) it does not (BENCHMARKS.md, "A
// million users").
const insertRows = 128

// CreateUsers inserts users, up to insertRows a statement. A taken email or id
// fails the statement (usher.EmailTaken), and with it the transaction.
func (t *tx) CreateUsers(ctx context.Context, us []*usher.User) error {
	for len(us) > 0 {
		n := min(len(us), insertRows)
		if err := t.insertUsers(ctx, us[:n]); err != nil {
			return err
		}
		us = us[n:]
	}
	return nil
}

func (t *tx) insertUsers(ctx context.Context, us []*usher.User) error {
	q := t.s.qInsertUsers
	if len(us) != insertRows {
		q = t.s.insertUsersSQL(len(us))
	}
	args := make([]any, 0, len(us)*len(userCols))
	tenants := map[string]any{} // a tenant's value in users, looked up once a statement
	for _, u := range us {
		tenant, ok := tenants[u.TenantID]
		if !ok {
			var err error
			if tenant, err = t.tenantValue(ctx, u.TenantID); err != nil {
				return err
			}
			tenants[u.TenantID] = tenant
		}
		args = append(args, t.s.id(u.ID), tenant, storedEmail(u), u.EmailKey, t.s.packHash(u.Hash), u.Confirmed, u.Enabled,
			string(u.Data), millis(u.CreatedAt), millis(u.UpdatedAt), u.FailedChecks, millis(u.FailedSince))
	}
	_, err := t.exec(ctx, q, args...)
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.EmailTaken, errEmailTaken.Message, err)
	}
	if err != nil && t.s.d.ForeignKeyViolation(err) {
		return usher.Wrap(usher.NotFound, errNoTenant.Message, err)
	}
	return t.s.wrap(err)
}

// tenantValue is what the users' tenant_id column holds for a tenant (see
// Store.tenantParam), read in the transaction, so that a statement writing
// many users binds it as a value instead of looking it up for each row.
func (t *tx) tenantValue(ctx context.Context, tenantID string) (any, error) {
	if !t.s.d.TenantNumbers {
		return t.s.id(tenantID), nil
	}
	var no int64
	err := t.row(ctx, `SELECT no FROM tenants WHERE id = $1`, t.s.id(tenantID)).Scan(&no)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoTenant
	}
	return no, t.s.wrap(err)
}

// param is the n-th parameter of a statement built with the
// dialect's list parameters: "$n", or "?" (which SQLite numbers one more
// than the parameter before it, so a list may follow "$1").
func (s *Store) param(n int) string {
	if s.d.AnonymousParams {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

// insertUsersSQL is an INSERT of n users.
func (s *Store) insertUsersSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO users (` + userColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range userCols {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s.param(i*len(userCols) + j + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// EachUser calls fn with every user of a tenant, in creation order, from
// one snapshot of the database: one SELECT sees one state on both engines,
// whatever is written while it runs. It is not bounded by the operation
// timeout (an export of a million users takes seconds); ctx ends it.
func (s *Store) EachUser(ctx context.Context, tenantID string, fn func(usher.User) error) error {
	x, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer x.Rollback() //nolint:errcheck // read-only: nothing to keep
	if s.d.Unbounded != "" {
		if _, err := x.ExecContext(ctx, s.d.Unbounded); err != nil {
			return s.wrap(err)
		}
	}
	rows, err := x.QueryContext(ctx, `SELECT `+s.sql.cols+` FROM users WHERE `+s.tenantIs("$1")+` ORDER BY created_at, id`, s.id(tenantID))
	if err != nil {
		return s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u usher.User
		var c userScan
		if err := rows.Scan(c.dests(&u)...); err != nil {
			return s.wrap(err)
		}
		c.finish(&u)
		if err := fn(u); err != nil {
			return err
		}
	}
	return s.wrap(rows.Err())
}

// AfterImport brings the planner up to date with a bulk import, where the
// engine needs it.
func (s *Store) AfterImport(ctx context.Context) error {
	if s.d.AnalyzeUsers == "" {
		return nil
	}
	_, err := s.w.ExecContext(ctx, s.d.AnalyzeUsers)
	return s.wrap(err)
}
