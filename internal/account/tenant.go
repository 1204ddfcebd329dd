package account

import (
	"context"
	"sync"
	"time"

	"github.com/usherhq/usher/internal/token"
	"github.com/usherhq/usher/internal/usher"
)

// tenantCacheTTL bounds how long a node serves a tenant without rereading
// it; tenants change rarely, and every public request names one.
const tenantCacheTTL = time.Minute

type tenantEntry struct {
	t       usher.Tenant
	fetched time.Time
}

// tenants caches tenants by public key. Unknown keys are not cached, so a
// stream of random keys cannot grow it.
type tenants struct{ m sync.Map }

// TenantByKey returns the tenant of a public key.
func (s *Service) TenantByKey(ctx context.Context, key string) (usher.Tenant, error) {
	now := time.Now()
	if v, ok := s.tenants.m.Load(key); ok {
		e := v.(tenantEntry)
		if now.Sub(e.fetched) < tenantCacheTTL {
			return e.t, nil
		}
	}
	t, err := s.c.Store.TenantByKey(ctx, key)
	if err != nil {
		s.tenants.m.Delete(key)
		return t, err
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
