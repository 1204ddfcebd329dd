package main

import (
	"testing"

	"github.com/usherhq/usher/internal/api"
)

// TestEveryRouteDeclaresItsGuard walks every surface of a running Usher
// (all three listeners on): each route names a guard, and every route of
// the backend requires the client certificate.
func TestEveryRouteDeclaresItsGuard(t *testing.T) {
	s := startServer(t, withThunder)
	if got, want := len(s.surfaces), 3; got != want {
		t.Fatalf("surfaces: got %d, want %d", got, want)
	}
	for _, sf := range s.surfaces {
		if len(sf.Routes) == 0 {
			t.Errorf("surface %s has no routes", sf.Name)
		}
		for _, r := range sf.Routes {
			if r.Guard.Name == "" || r.Guard.Check == nil {
				t.Errorf("%s route %q has no guard", sf.Name, r.Pattern)
			}
			if sf.Name == "backend" && r.Guard.Name != api.ClientCert.Name {
				t.Errorf("backend route %q has guard %q, want %q", r.Pattern, r.Guard.Name, api.ClientCert.Name)
			}
		}
	}
}
