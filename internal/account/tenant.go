package account

import (
	"context"
	"regexp"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// tenantCacheTTL bounds how long a node serves a tenant without rereading
// it; tenants change rarely, and every public request names one.
const tenantCacheTTL = time.Minute

// MaxKeyOverlap bounds how long a rotated public key may keep working.
const MaxKeyOverlap = 90 * 24 * time.Hour

type tenantEntry struct {
	t       usher.Tenant
	fetched time.Time
}

// tenants caches tenants by public key. Unknown keys are not cached, so a
// stream of random keys cannot grow it.
type tenants struct{ m sync.Map }

var errNoTenant = usher.Errorf(usher.NotFound, "Tenant not found.")

// forget drops every cached key of a tenant.
func (c *tenants) forget(id string) {
	c.m.Range(func(k, v any) bool {
		if v.(tenantEntry).t.ID == id {
			c.m.Delete(k)
		}
		return true
	})
}

// TenantByKey returns the tenant of a public key: its current key, or the
// previous one until the overlap after a rotation ends.
func (s *Service) TenantByKey(ctx context.Context, key string) (usher.Tenant, error) {
	now := time.Now()
	if v, ok := s.tenants.m.Load(key); ok {
		e := v.(tenantEntry)
		if now.Sub(e.fetched) < tenantCacheTTL && e.t.AcceptsKey(key, s.c.Now()) {
			return e.t, nil
		}
	}
	t, err := s.c.Store.TenantByKey(ctx, key)
	if err == nil && !t.AcceptsKey(key, s.c.Now()) {
		err = errNoTenant
	}
	if err != nil {
		s.tenants.m.Delete(key)
		return usher.Tenant{}, err
	}
	s.tenants.m.Store(key, tenantEntry{t: t, fetched: now})
	return t, nil
}

// DefaultTenant returns the tenant that surfaces without a tenant selector
// work in, creating it (with a new public key) on first start.
func (s *Service) DefaultTenant(ctx context.Context) (usher.Tenant, error) {
	return s.c.Store.EnsureTenant(ctx, usher.Tenant{
		ID: usher.DefaultTenantID, Name: "default", PublicKey: token.NewPublicKey(), CreatedAt: s.now(),
	})
}

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CreateTenant creates a user pool with a new public key.
func (s *Service) CreateTenant(ctx context.Context, name string) (usher.Tenant, error) {
	if !tenantName.MatchString(name) {
		return usher.Tenant{}, usher.Errorf(usher.Invalid,
			"A tenant name is 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit.")
	}
	if usher.ValidID(name) {
		return usher.Tenant{}, usher.Errorf(usher.Invalid, "A tenant name cannot be an id.")
	}
	now := s.now()
	t := usher.Tenant{ID: usher.NewID(now), Name: name, PublicKey: token.NewPublicKey(), CreatedAt: now}
	err := s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, tx, t.ID, AuditTenantCreated, "", detail{"name": name})
	})
	if err != nil {
		return usher.Tenant{}, err
	}
	s.c.Log.InfoContext(ctx, "tenant created", "event", "tenant_created", "tenant_id", t.ID, "name", name)
	return t, nil
}

// Tenants returns every tenant, oldest first.
func (s *Service) Tenants(ctx context.Context) ([]usher.Tenant, error) {
	ts, err := s.c.Store.Tenants(ctx)
	for i := range ts {
		ts[i] = s.current(ts[i])
	}
	return ts, err
}

// Tenant returns a tenant by id or by name.
func (s *Service) Tenant(ctx context.Context, ref string) (usher.Tenant, error) {
	var t usher.Tenant
	var err error
	switch {
	case usher.ValidID(ref):
		t, err = s.c.Store.TenantByID(ctx, ref)
	case tenantName.MatchString(ref):
		t, err = s.c.Store.TenantByName(ctx, ref)
	default:
		err = errNoTenant
	}
	return s.current(t), err
}

// current drops a previous key whose overlap has ended.
func (s *Service) current(t usher.Tenant) usher.Tenant {
	if t.PreviousKey != "" && !s.c.Now().Before(t.PreviousKeyUntil) {
		t.PreviousKey, t.PreviousKeyUntil = "", time.Time{}
	}
	return t
}

// RotateTenantKey gives a tenant a new public key. The key it had keeps
// working for overlap (0: it stops at once); a key older than that one
// stops now.
func (s *Service) RotateTenantKey(ctx context.Context, ref string, overlap time.Duration) (usher.Tenant, error) {
	if overlap < 0 || overlap > MaxKeyOverlap {
		return usher.Tenant{}, usher.Errorf(usher.Invalid, "The overlap must be between 0 and %s.", MaxKeyOverlap)
	}
	cur, err := s.Tenant(ctx, ref)
	if err != nil {
		return usher.Tenant{}, err
	}
	var t usher.Tenant
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		if t, err = tx.LockTenant(ctx, cur.ID); err != nil {
			return err
		}
		t.PreviousKey, t.PreviousKeyUntil, t.PublicKey = t.PublicKey, s.now().Add(overlap), token.NewPublicKey()
		if overlap == 0 {
			t.PreviousKey, t.PreviousKeyUntil = "", time.Time{}
		}
		if err := tx.SetTenantKeys(ctx, t); err != nil {
			return err
		}
		return s.audit(ctx, tx, t.ID, AuditTenantKeyRotated, "", detail{"overlap_seconds": int(overlap.Seconds())})
	})
	if err != nil {
		return usher.Tenant{}, err
	}
	// This node stops serving the keys it cached at once; others reread
	// within tenantCacheTTL.
	s.tenants.forget(t.ID)
	s.c.Log.InfoContext(ctx, "tenant key rotated", "event", "tenant_key_rotated", "tenant_id", t.ID, "overlap", overlap.String())
	return s.current(t), nil
}

// DeleteTenant deletes a tenant. One with users is deleted only with force,
// and then everything of it goes: users, sessions, codes, queued email.
// The default tenant cannot be deleted.
func (s *Service) DeleteTenant(ctx context.Context, ref string, force bool) error {
	t, err := s.Tenant(ctx, ref)
	if err != nil {
		return err
	}
	if t.ID == usher.DefaultTenantID {
		return usher.Errorf(usher.Conflict, "The default tenant cannot be deleted.")
	}
	err = s.c.Store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if _, err := tx.LockTenant(ctx, t.ID); err != nil {
			return err
		}
		if !force {
			has, err := tx.TenantHasUsers(ctx, t.ID)
			if err != nil {
				return err
			}
			if has {
				return usher.Errorf(usher.Conflict, "The tenant has users; deleting it with force deletes them too.")
			}
		}
		if err := tx.DeleteTenant(ctx, t.ID); err != nil {
			return err
		}
		// The tenant's own log went with it: the default tenant's keeps this.
		return s.audit(ctx, tx, usher.DefaultTenantID, AuditTenantDeleted, "", detail{"tenant_id": t.ID, "name": t.Name, "forced": force})
	})
	if err != nil {
		return err
	}
	s.tenants.forget(t.ID)
	s.c.Log.InfoContext(ctx, "tenant deleted", "event", "tenant_deleted", "tenant_id", t.ID, "forced", force)
	return nil
}
