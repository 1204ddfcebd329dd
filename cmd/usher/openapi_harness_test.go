package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/api/thunder"
)

// docValidators loads each surface's OpenAPI document once per test run,
// in two forms: as served with the openapi setting on ("backend"), and
// without the documentation's own paths, which are unknown routes when it
// is off ("backend-off").
var docValidators = sync.OnceValues(func() (map[string]*doctest.Validator, error) {
	out := map[string]*doctest.Validator{}
	for name, src := range map[string][]byte{"backend": backend.OpenAPI(), "public": public.OpenAPI(), "thunder": thunder.OpenAPI()} {
		for _, off := range []bool{false, true} {
			doc, err := doctest.Parse(src)
			if err != nil {
				return nil, fmt.Errorf("%s document: %w", name, err)
			}
			key := name
			if off {
				key += "-off"
				for _, p := range doc.Paths.Keys() {
					if p == apidoc.PathJSON || p == apidoc.PathYAML || p == apidoc.PathSwagger || strings.HasPrefix(p, apidoc.PathSwagger+"/") {
						doc.Paths.Delete(p)
					}
				}
			}
			if out[key], err = doctest.NewValidator(doc); err != nil {
				return nil, fmt.Errorf("%s document: %w", name, err)
			}
		}
	}
	return out, nil
})

// validating wraps the transport of a surface's client so that every
// request and response the end-to-end tests exchange with it is checked
// against the surface's OpenAPI document (as served with the openapi
// setting on or off); a mismatch fails t.
func validating(t testing.TB, surface string, openapi bool, c *http.Client) {
	t.Helper()
	vs, err := docValidators()
	if err != nil {
		t.Fatal(err)
	}
	key := surface
	if !openapi {
		key += "-off"
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &doctest.Transport{Base: base, Validator: vs[key], Fail: func(format string, args ...any) {
		t.Errorf("%s surface: "+format, append([]any{surface}, args...)...)
	}}
}

// httpTransport returns the *http.Transport under c's validating
// transport, for tests that dial by hand with its TLS settings.
func httpTransport(c *http.Client) *http.Transport {
	rt := c.Transport
	if v, ok := rt.(*doctest.Transport); ok {
		rt = v.Base
	}
	return rt.(*http.Transport)
}
