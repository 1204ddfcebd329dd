package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
	"github.com/usherhq/usher/internal/usher"
)

// Tenants as an operator manages them: creation, lookup by id, name and
// public key, key rotation with an overlap, deletion.

func mustTenant(t *testing.T, e *accounttest.Env, name string) usher.Tenant {
	t.Helper()
	tn, err := e.Service.CreateTenant(t.Context(), name)
	if err != nil {
		t.Fatalf("CreateTenant(%q): %v", name, err)
	}
	return tn
}

// keyWorks fails the test unless the public key names the tenant as want
// says.
func keyWorks(t *testing.T, e *accounttest.Env, what, key string, tenantID string, want bool) {
	t.Helper()
	got, err := e.Service.TenantByKey(t.Context(), key)
	switch {
	case want && err != nil:
		t.Errorf("%s: TenantByKey: %v, want the tenant", what, err)
	case want && got.ID != tenantID:
		t.Errorf("%s: TenantByKey: got tenant %s, want %s", what, got.ID, tenantID)
	case !want:
		wantCode(t, what+": TenantByKey", err, usher.NotFound)
	}
}

func TestCreateTenant(t *testing.T) {
	e := accounttest.New(t)
	good := []string{"acme", "a", "0", "team-1_x", strings.Repeat("z", 63)}
	for _, name := range good {
		tn := mustTenant(t, e, name)
		if tn.Name != name || !usher.ValidID(tn.ID) || tn.PublicKey == "" || !tn.CreatedAt.Equal(e.Clock.Now()) {
			t.Errorf("CreateTenant(%q): got %+v", name, tn)
		}
		for _, ref := range []string{name, tn.ID} {
			got, err := e.Service.Tenant(t.Context(), ref)
			if err != nil || got != tn {
				t.Errorf("Tenant(%q): got %+v (err %v), want %+v", ref, got, err, tn)
			}
		}
		keyWorks(t, e, "new tenant's key", tn.PublicKey, tn.ID, true)
	}
	bad := []string{"", "Acme", "-acme", "_acme", "ac me", "acme.com", "ümlaut", strings.Repeat("z", 64),
		usher.NewID(e.Clock.Now()), "acme\n"}
	for _, name := range bad {
		_, err := e.Service.CreateTenant(t.Context(), name)
		wantCode(t, "CreateTenant("+name+")", err, usher.Invalid)
	}
	_, err := e.Service.CreateTenant(t.Context(), "acme")
	wantCode(t, "CreateTenant of a taken name", err, usher.Conflict)
	_, err = e.Service.CreateTenant(t.Context(), "default")
	wantCode(t, "CreateTenant of the default tenant's name", err, usher.Conflict)

	all, err := e.Service.Tenants(t.Context())
	if err != nil {
		t.Fatalf("Tenants: %v", err)
	}
	if len(all) != len(good)+1 || all[0].ID != usher.DefaultTenantID {
		t.Errorf("Tenants: got %d, the first %q; want %d, the default first", len(all), all[0].Name, len(good)+1)
	}
	for _, ref := range []string{"nope", "Not A Name", usher.NewID(e.Clock.Now()), ""} {
		_, err := e.Service.Tenant(t.Context(), ref)
		wantCode(t, "Tenant("+ref+")", err, usher.NotFound)
	}
}

func TestRotateTenantKey(t *testing.T) {
	e := accounttest.New(t)
	tn := mustTenant(t, e, "acme")
	first := tn.PublicKey
	keyWorks(t, e, "key before the rotation", first, tn.ID, true) // and cached

	rotated, err := e.Service.RotateTenantKey(t.Context(), "acme", time.Hour)
	if err != nil {
		t.Fatalf("RotateTenantKey: %v", err)
	}
	second := rotated.PublicKey
	until := e.Clock.Now().Add(time.Hour)
	if second == "" || second == first || rotated.PreviousKey != first || !rotated.PreviousKeyUntil.Equal(until) {
		t.Errorf("RotateTenantKey: got key %q, previous %q until %v; want a new key, previous %q until %v",
			second, rotated.PreviousKey, rotated.PreviousKeyUntil, first, until)
	}
	got, err := e.Service.Tenant(t.Context(), tn.ID)
	if err != nil || got != rotated {
		t.Errorf("Tenant after the rotation: got %+v (err %v), want %+v", got, err, rotated)
	}
	keyWorks(t, e, "new key", second, tn.ID, true)
	keyWorks(t, e, "old key during the overlap", first, tn.ID, true)
	e.Clock.Advance(time.Hour - time.Millisecond)
	keyWorks(t, e, "old key at the end of the overlap", first, tn.ID, true)
	e.Clock.Advance(time.Millisecond)
	keyWorks(t, e, "old key once the overlap ended", first, tn.ID, false)
	keyWorks(t, e, "new key once the overlap ended", second, tn.ID, true)
	got, err = e.Service.Tenant(t.Context(), "acme")
	if err != nil || got.PublicKey != second || got.PreviousKey != "" || !got.PreviousKeyUntil.IsZero() {
		t.Errorf("Tenant once the overlap ended: got %+v (err %v), want key %q and no previous key", got, err, second)
	}

	t.Run("NoOverlap", func(t *testing.T) {
		before, err := e.Service.Tenant(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		keyWorks(t, e, "key before the rotation", before.PublicKey, tn.ID, true) // and cached
		r, err := e.Service.RotateTenantKey(t.Context(), tn.ID, 0)
		if err != nil {
			t.Fatalf("RotateTenantKey: %v", err)
		}
		if r.PreviousKey != "" || !r.PreviousKeyUntil.IsZero() || r.PublicKey == before.PublicKey {
			t.Errorf("RotateTenantKey without overlap: got %+v, want a new key and no previous key", r)
		}
		keyWorks(t, e, "old key after a rotation without overlap", before.PublicKey, tn.ID, false)
		keyWorks(t, e, "new key", r.PublicKey, tn.ID, true)
	})

	t.Run("SecondRotationDropsTheOldest", func(t *testing.T) {
		k0, err := e.Service.Tenant(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		r1, err := e.Service.RotateTenantKey(t.Context(), "acme", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyWorks(t, e, "key of one rotation ago", k0.PublicKey, tn.ID, true)
		r2, err := e.Service.RotateTenantKey(t.Context(), "acme", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		keyWorks(t, e, "key of two rotations ago", k0.PublicKey, tn.ID, false)
		keyWorks(t, e, "key of one rotation ago", r1.PublicKey, tn.ID, true)
		keyWorks(t, e, "current key", r2.PublicKey, tn.ID, true)
	})

	t.Run("Refused", func(t *testing.T) {
		for _, d := range []time.Duration{-time.Second, account.MaxKeyOverlap + time.Millisecond} {
			_, err := e.Service.RotateTenantKey(t.Context(), "acme", d)
			wantCode(t, "RotateTenantKey with overlap "+d.String(), err, usher.Invalid)
		}
		_, err := e.Service.RotateTenantKey(t.Context(), "nope", time.Hour)
		wantCode(t, "RotateTenantKey of an unknown tenant", err, usher.NotFound)
		if _, err := e.Service.RotateTenantKey(t.Context(), "acme", account.MaxKeyOverlap); err != nil {
			t.Errorf("RotateTenantKey with the longest overlap: %v", err)
		}
	})

	t.Run("OtherTenantsKeep", func(t *testing.T) {
		if _, err := e.Service.RotateTenantKey(t.Context(), "acme", 0); err != nil {
			t.Fatal(err)
		}
		keyWorks(t, e, "the default tenant's key", e.Tenant.PublicKey, e.Tenant.ID, true)
	})
}

func TestDeleteTenant(t *testing.T) {
	e := accounttest.New(t)
	defaultUser := mustCreate(t, e, "ann@example.com", oldPassword)

	for _, ref := range []string{"default", usher.DefaultTenantID} {
		wantCode(t, "DeleteTenant("+ref+")", e.Service.DeleteTenant(t.Context(), ref, true), usher.Conflict)
	}
	keyWorks(t, e, "the default tenant after refused deletes", e.Tenant.PublicKey, e.Tenant.ID, true)

	t.Run("Empty", func(t *testing.T) {
		tn := mustTenant(t, e, "empty")
		keyWorks(t, e, "key before the delete", tn.PublicKey, tn.ID, true) // and cached
		if err := e.Service.DeleteTenant(t.Context(), "empty", false); err != nil {
			t.Fatalf("DeleteTenant: %v", err)
		}
		keyWorks(t, e, "key of a deleted tenant", tn.PublicKey, tn.ID, false)
		_, err := e.Service.Tenant(t.Context(), tn.ID)
		wantCode(t, "Tenant of a deleted tenant", err, usher.NotFound)
		wantCode(t, "second DeleteTenant", e.Service.DeleteTenant(t.Context(), "empty", false), usher.NotFound)
	})

	t.Run("WithUsers", func(t *testing.T) {
		tn := mustTenant(t, e, "busy")
		u, err := e.Service.Create(t.Context(), tn.ID, account.NewUser{Email: "ann@example.com", Password: oldPassword, Enabled: true})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		tok, err := e.Service.Login(t.Context(), tn.ID, u.Email, oldPassword)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if err := e.Service.SendReset(t.Context(), tn.ID, u.Email); err != nil {
			t.Fatalf("SendReset: %v", err)
		}

		wantCode(t, "DeleteTenant with users, without force", e.Service.DeleteTenant(t.Context(), tn.ID, false), usher.Conflict)
		if _, err := e.Service.User(t.Context(), tn.ID, u.ID); err != nil {
			t.Errorf("user after a refused delete: %v", err)
		}
		if _, _, err := e.Service.Authenticate(t.Context(), tn.ID, tok); err != nil {
			t.Errorf("session after a refused delete: %v", err)
		}

		if err := e.Service.DeleteTenant(t.Context(), "busy", true); err != nil {
			t.Fatalf("DeleteTenant with force: %v", err)
		}
		_, err = e.Service.User(t.Context(), tn.ID, u.ID)
		wantCode(t, "user of a deleted tenant", err, usher.NotFound)
		_, _, err = e.Service.Authenticate(t.Context(), tn.ID, tok)
		wantCode(t, "session of a deleted tenant", err, usher.Unauthorized)
		keyWorks(t, e, "key of a deleted tenant", tn.PublicKey, tn.ID, false)
		for _, m := range e.Mail(t) {
			if m.To == u.Email && m.Kind == usher.MailReset {
				t.Errorf("a reset email of the deleted tenant is still queued")
			}
		}
		// The user of the same address in the default tenant is untouched.
		if _, err := e.Service.Login(t.Context(), e.Tenant.ID, defaultUser.Email, oldPassword); err != nil {
			t.Errorf("Login in the default tenant: %v", err)
		}
	})

	wantCode(t, "DeleteTenant of an unknown tenant", e.Service.DeleteTenant(t.Context(), "nope", true), usher.NotFound)
}
