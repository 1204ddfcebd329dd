package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usherhq/usher/internal/usher"
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
	var created int64
	err = s.row(ctx, `SELECT id, name, public_key, created_at FROM tenants WHERE id = $1`, s.id(t.ID)).
		Scan(idDest{&t.ID}, &t.Name, &t.PublicKey, &created)
	if err != nil {
		return usher.Tenant{}, s.wrap(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}

// TenantByKey returns the tenant whose public key is key.
func (s *Store) TenantByKey(ctx context.Context, key string) (usher.Tenant, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var t usher.Tenant
	var created int64
	err := s.row(ctx, `SELECT id, name, public_key, created_at FROM tenants WHERE public_key = $1`, key).
		Scan(idDest{&t.ID}, &t.Name, &t.PublicKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return t, usher.Errorf(usher.NotFound, "Tenant not found.")
	}
	if err != nil {
		return t, s.wrap(err)
	}
	t.CreatedAt = fromMillis(created)
	return t, nil
}
