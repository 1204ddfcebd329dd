package webhook

import (
	"context"
	"net/http"
	"net/netip"
)

// SetLookup replaces the resolver of s, so that a test can make a name
// resolve to any address.
func SetLookup(s *Sender, f func(ctx context.Context, host string) ([]netip.Addr, error)) {
	s.lookup = f
}

// TransportOf returns the transport of s.
func TransportOf(s *Sender) *http.Transport { return s.client.Transport.(*http.Transport) }

// Forbidden and RefuseAddress expose the address checks.
var (
	Forbidden     = forbidden
	RefuseAddress = refuseAddress
)
