package main

import (
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/api/thunder"
)

// TestEveryRouteDeclaresItsAuthPolicy walks every surface's route table:
// each route names a known policy, and the backend's every route needs the
// client certificate.
func TestEveryRouteDeclaresItsAuthPolicy(t *testing.T) {
	known := map[api.Policy]bool{api.MutualTLS: true, api.Public: true, api.TenantKey: true, api.Bearer: true}
	b := backend.New(nil, "t").Routes()
	b = append(b, backend.Ops(nil, nil)...)
	for _, r := range b {
		if r.Auth != api.MutualTLS {
			t.Errorf("backend route %q has policy %q, want mtls", r.Pattern, r.Auth)
		}
	}
	for _, r := range public.New(nil, "t", nil, nil).Routes() {
		if !known[r.Auth] {
			t.Errorf("public route %q has no known policy (%q)", r.Pattern, r.Auth)
		}
	}
	for _, r := range thunder.New(nil, "t", thunder.Config{}, nil).Routes() {
		if r.Auth != thunder.BasicAuth && r.Auth != thunder.NoAuth {
			t.Errorf("thunder route %q has no known policy (%q)", r.Pattern, r.Auth)
		}
	}
}
