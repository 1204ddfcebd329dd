package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usherhq/usher/internal/usher"
)

const tenantColumns = `id, name, public_key, created_at, previous_key, previous_key_until`

func (s *Store) scanTenant(row interface{ Scan(...any) error }) (usher.Tenant, error) {
	var t usher.Tenant
	var created, until int64
	var prev sql.NullString
	err := row.Scan(idDest{&t.ID}, &t.Name, &t.PublicKey, &created, &prev, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return t, errNoTenant
	}
	if err != nil {
		return t, s.wrap(err)
	}
	t.CreatedAt, t.PreviousKey = fromMillis(created), prev.String
	if until != 0 {
		t.PreviousKeyUntil = fromMillis(until)
	}
	return t, nil
}

var (
	errNoTenant   = usher.Errorf(usher.NotFound, "Tenant not found.")
	errTenantName = usher.Errorf(usher.Conflict, "A tenant with this name already exists.")
)

// EnsureTenant creates the tenant if it does not exist and returns it as
// stored (a tenant created earlier keeps its public key).
func (s *Store) EnsureTenant(ctx context.Context, t usher.Tenant) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `INSERT INTO tenants (id, name, public_key, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`, s.id(t.ID), t.Name, t.PublicKey, millis(t.CreatedAt))
	if err != nil {
		return usher.Tenant{}, s.wrap(err)
	}
	return s.scanTenant(s.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, s.id(t.ID)))
}

// TenantByKey returns the tenant whose current or previous public key is
// key; the caller decides whether a previous key is still accepted.
func (s *Store) TenantByKey(ctx context.Context, key string) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanTenant(s.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE public_key = $1
		UNION ALL SELECT `+tenantColumns+` FROM tenants WHERE previous_key = $1 LIMIT 1`, key))
}

// TenantByID returns one tenant.
func (s *Store) TenantByID(ctx context.Context, id string) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanTenant(s.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, s.id(id)))
}

// TenantByName returns the tenant of a name.
func (s *Store) TenantByName(ctx context.Context, name string) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return s.scanTenant(s.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE name = $1`, name))
}

// Tenants returns every tenant, oldest first.
func (s *Store) Tenants(ctx context.Context) ([]usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.Tenant
	for rows.Next() {
		t, err := s.scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, s.wrap(rows.Err())
}

func (t *tx) CreateTenant(ctx context.Context, x usher.Tenant) error {
	_, err := t.exec(ctx, `INSERT INTO tenants (id, name, public_key, created_at) VALUES ($1, $2, $3, $4)`,
		t.s.id(x.ID), x.Name, x.PublicKey, millis(x.CreatedAt))
	if err != nil && t.s.d.UniqueViolation(err) {
		return usher.Wrap(usher.Conflict, errTenantName.Message, err)
	}
	return t.s.wrap(err)
}

func (t *tx) LockTenant(ctx context.Context, id string) (usher.Tenant, error) {
	return t.s.scanTenant(t.row(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`+t.s.d.ForUpdate, t.s.id(id)))
}

// SetTenantKeys writes a tenant's current and previous public keys.
func (t *tx) SetTenantKeys(ctx context.Context, x usher.Tenant) error {
	prev := sql.NullString{String: x.PreviousKey, Valid: x.PreviousKey != ""}
	res, err := t.exec(ctx, `UPDATE tenants SET public_key = $1, previous_key = $2, previous_key_until = $3 WHERE id = $4`,
		x.PublicKey, prev, millis(x.PreviousKeyUntil), t.s.id(x.ID))
	if err := t.s.affected(res, err); errors.Is(err, errNotFound) {
		return errNoTenant
	} else if err != nil {
		return err
	}
	return nil
}

// TenantHasUsers reports whether a tenant has any user.
func (t *tx) TenantHasUsers(ctx context.Context, id string) (bool, error) {
	var n int
	err := t.row(ctx, `SELECT count(*) FROM (SELECT 1 FROM users WHERE `+t.s.tenantIs("$1")+` LIMIT 1) x`, t.s.id(id)).Scan(&n)
	return n > 0, t.s.wrap(err)
}

// DeleteTenant deletes a tenant and everything of it: its users (and with
// them, by cascade, their sessions and codes) and its queued email.
func (t *tx) DeleteTenant(ctx context.Context, id string) error {
	for _, q := range []string{
		`DELETE FROM webhook_deliveries WHERE tenant_id = $1`,
		`DELETE FROM webhook_endpoints WHERE tenant_id = $1`,
		`DELETE FROM events WHERE tenant_id = $1`,
		`DELETE FROM outbox WHERE tenant_id = $1`,
		`DELETE FROM sessions WHERE tenant_id = $1`,
		`DELETE FROM codes WHERE tenant_id = $1`,
		`DELETE FROM users WHERE ` + t.s.tenantIs("$1"),
	} {
		if _, err := t.exec(ctx, q, t.s.id(id)); err != nil {
			return t.s.wrap(err)
		}
	}
	res, err := t.exec(ctx, `DELETE FROM tenants WHERE id = $1`, t.s.id(id))
	if err := t.s.affected(res, err); errors.Is(err, errNotFound) {
		return errNoTenant
	} else if err != nil {
		return err
	}
	return nil
}
