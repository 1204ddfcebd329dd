package main

import (
	"strings"
	"testing"

	"github.com/usherhq/usher/internal/api"
)

// TestEveryRouteDeclaresItsGuard walks every surface of a running Usher
// (all four listeners on): each route names a guard, and every route of
// the backend requires the client certificate, and no state change on the
// console is open.
func TestEveryRouteDeclaresItsGuard(t *testing.T) {
	s := startServer(t, withThunder)
	if got, want := len(s.surfaces), 4; got != want {
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
			if sf.Name == "admin" && strings.HasPrefix(r.Pattern, "POST ") && r.Guard.Name == api.Open.Name {
				t.Errorf("console route %q changes state without a guard", r.Pattern)
			}
			if sf.Name == "backend" && r.Guard.Name != api.ClientCert.Name {
				t.Errorf("backend route %q has guard %q, want %q", r.Pattern, r.Guard.Name, api.ClientCert.Name)
			}
		}
	}
}
