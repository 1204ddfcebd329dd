package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/store"
	"github.com/usherhq/usher/internal/usher"
)

// The tenants table: EnsureTenant, TenantByKey, and the isolation of
// users between tenants.

func testEnsureTenant(t *testing.T, s *store.Store) {
	first := usher.Tenant{ID: usher.NewID(base), Name: "first", PublicKey: usher.NewID(base), CreatedAt: base}
	got, err := s.EnsureTenant(ctx(t), first)
	if err != nil {
		t.Fatalf("EnsureTenant (create): %v", err)
	}
	if d := diff(got, first); d != "" {
		t.Errorf("EnsureTenant (create): tenant differs:\n%s", d)
	}

	again := usher.Tenant{ID: first.ID, Name: "second", PublicKey: usher.NewID(base), CreatedAt: base.Add(time.Hour)}
	got, err = s.EnsureTenant(ctx(t), again)
	if err != nil {
		t.Fatalf("EnsureTenant (existing): %v", err)
	}
	if d := diff(got, first); d != "" {
		t.Errorf("EnsureTenant (existing): got a changed tenant, want the first one:\n%s", d)
	}

	// A user can live in the tenant: the tenant row really exists.
	create(t, s, newUser(first.ID, "tenant@example.com"))
}

func testTenantByKey(t *testing.T, s *store.Store) {
	var tenants []usher.Tenant
	for i := range 2 {
		tn, err := s.EnsureTenant(ctx(t), usher.Tenant{
			ID: usher.NewID(base), Name: fmt.Sprintf("tenant %d", i), PublicKey: fmt.Sprintf("pk_test_%d", i),
			CreatedAt: base.Add(time.Duration(i) * time.Hour),
		})
		if err != nil {
			t.Fatalf("EnsureTenant: %v", err)
		}
		tenants = append(tenants, tn)
	}
	for _, want := range tenants {
		t.Run(want.PublicKey, func(t *testing.T) {
			got, err := s.TenantByKey(ctx(t), want.PublicKey)
			if err != nil {
				t.Fatalf("TenantByKey: %v", err)
			}
			if d := diff(got, want); d != "" {
				t.Errorf("TenantByKey: tenant differs:\n%s", d)
			}
		})
	}
	for _, key := range []string{"pk_test_unknown", "", "PK_TEST_0"} {
		t.Run(fmt.Sprintf("Unknown%q", key), func(t *testing.T) {
			_, err := s.TenantByKey(ctx(t), key)
			wantCode(t, "TenantByKey of an unknown key", err, usher.NotFound)
		})
	}
}

func testTenantIsolation(t *testing.T, s *store.Store) {
	a, b := newTenant(t, s), newTenant(t, s)
	ua := create(t, s, newUser(a, "shared@example.com"))

	_, err := s.UserByID(ctx(t), b, ua.ID)
	wantCode(t, "UserByID from another tenant", err, usher.NotFound)
	_, err = s.UserByEmail(ctx(t), b, ua.EmailKey)
	wantCode(t, "UserByEmail from another tenant", err, usher.NotFound)

	moved := ua
	moved.TenantID = b
	moved.Email, moved.EmailKey = "moved@example.com", "moved@example.com"
	ops := []struct {
		name string
		fn   func(tctx context.Context, tx account.Tx) error
	}{
		{"Tx.UserByID", func(tctx context.Context, tx account.Tx) error { _, err := tx.UserByID(tctx, b, ua.ID); return err }},
		{"Tx.UserByEmail", func(tctx context.Context, tx account.Tx) error {
			_, err := tx.UserByEmail(tctx, b, ua.EmailKey)
			return err
		}},
		{"Tx.LockUser", func(tctx context.Context, tx account.Tx) error { _, err := tx.LockUser(tctx, b, ua.ID); return err }},
		{"Tx.UpdateUser", func(tctx context.Context, tx account.Tx) error { return tx.UpdateUser(tctx, &moved) }},
		{"Tx.DeleteUser", func(tctx context.Context, tx account.Tx) error { return tx.DeleteUser(tctx, b, ua.ID) }},
		{"Tx.RecordFailure", func(tctx context.Context, tx account.Tx) error {
			return tx.RecordFailure(tctx, b, ua.ID, base, base.Add(-time.Minute))
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := s.Update(ctx(t), op.fn)
			wantCode(t, op.name+" from another tenant", err, usher.NotFound)
		})
	}

	// Nothing above touched the user in its own tenant.
	wantUser(t, "user after another tenant's writes", mustGet(t, s, a, ua.ID), ua)
}
