package main

// Tenants end to end: a backend request chooses its tenant by header, the
// public API by the tenant's key (the old one during a rotation's overlap),
// and a Thunder application works in the tenant it is bound to.

import (
	"net/http"
	"testing"
)

func TestTenantsEndToEnd(t *testing.T) {
	s := startServer(t)
	b := s.BackendAPI
	var acme struct {
		ID        string `json:"id"`
		PublicKey string `json:"public_key"`
	}
	b.do(t, "POST", "/tenants", `{"name":"acme"}`).wantStatus(t, "create tenant", http.StatusCreated).decode(t, "tenant", &acme)
	inAcme := header("X-Usher-Tenant", "acme")
	b.do(t, "POST", "/users/", `{"email":"ann@example.com","password":"acme-Secret-3141"}`, inAcme).
		wantStatus(t, "create a user in acme", http.StatusCreated)

	b.do(t, "GET", "/users?email=ann@example.com", "").wantStatus(t, "the user from the default tenant", http.StatusNotFound)
	b.do(t, "GET", "/users?email=ann@example.com", "", inAcme).wantStatus(t, "the user from acme by name", http.StatusOK)
	b.do(t, "GET", "/users?email=ann@example.com", "", header("X-Usher-Tenant", acme.ID)).wantStatus(t, "the user from acme by id", http.StatusOK)
	b.do(t, "GET", "/users?email=ann@example.com", "", header("X-Usher-Tenant", "nobody")).wantStatus(t, "an unknown tenant", http.StatusBadRequest)

	// The public API: acme's key finds the user, the default key does not.
	pub := s.PublicAPI.withKey(acme.PublicKey)
	pub.mustLogin(t, "ann@example.com", "acme-Secret-3141")
	s.PublicAPI.login(t, "ann@example.com", "acme-Secret-3141").wantStatus(t, "login with the default tenant's key", http.StatusUnauthorized)

	// A rotation keeps the old key for its overlap; a rotation without
	// overlap ends it at once on this node.
	var rotated struct {
		PublicKey   string  `json:"public_key"`
		PreviousKey *string `json:"previous_key"`
	}
	b.do(t, "POST", "/tenants/acme/rotate-key", `{"overlap":"1h"}`).wantStatus(t, "rotate", http.StatusOK).decode(t, "rotated", &rotated)
	if rotated.PreviousKey == nil || *rotated.PreviousKey != acme.PublicKey || rotated.PublicKey == acme.PublicKey {
		t.Fatalf("rotate: got key %q, previous %v; want a new key and the old one as previous", rotated.PublicKey, rotated.PreviousKey)
	}
	pub.mustLogin(t, "ann@example.com", "acme-Secret-3141")
	s.PublicAPI.withKey(rotated.PublicKey).mustLogin(t, "ann@example.com", "acme-Secret-3141")
	b.do(t, "POST", "/tenants/acme/rotate-key", `{"overlap":"0s"}`).wantStatus(t, "rotate without overlap", http.StatusOK)
	pub.login(t, "ann@example.com", "acme-Secret-3141").wantStatus(t, "login with a key rotated away", http.StatusUnauthorized)

	// A Thunder application bound to acme creates its users there.
	data, db := s.Config.Data, s.Config.DB
	s.Stop(t)
	s2 := startServer(t, withThunder, func(m *Main) {
		m.Config.Data, m.Config.DB = data, db
		m.Config.ThunderAppTenants = []string{thunderApp + "=acme"}
	})
	s2.ThunderAPI.create(t, "sam@example.com", "thunder-Secret-2718", nil)
	s2.BackendAPI.do(t, "GET", "/users?email=sam@example.com", "", inAcme).wantStatus(t, "the Thunder user in acme", http.StatusOK)
	s2.BackendAPI.do(t, "GET", "/users?email=sam@example.com", "").wantStatus(t, "the Thunder user in the default tenant", http.StatusNotFound)
	s2.ThunderAPI.get(t, "sam@example.com", "thunder-Secret-2718")

	// Deleting the bound tenant leaves the application a tenant that is not
	// there: its calls find nothing, and never answer 500.
	s2.BackendAPI.do(t, "DELETE", "/tenants/acme?force=true", "").wantStatus(t, "delete acme", http.StatusNoContent)
	r := s2.ThunderAPI.do(t, "POST", "/users", `{"email":{"address":"kim@example.com"},"password":"thunder-Secret-1618"}`)
	if r.Status != http.StatusNotFound {
		t.Errorf("Thunder create in a deleted tenant: %v; want 404", r)
	}
}

func TestThunderAppBoundToAnUnknownTenantStopsTheStart(t *testing.T) {
	m := &Main{Config: testConfig(t), HashParams: &cheapHash}
	withThunder(m)
	m.Config.ThunderAppTenants = []string{thunderApp + "=nowhere"}
	err := m.Start(t.Context())
	_ = m.Close()
	if err == nil {
		t.Fatal("start with a Thunder application bound to an unknown tenant: no error")
	}
}
