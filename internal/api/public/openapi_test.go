package public_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/usher"
)

// TestOpenAPIDescribesEveryRoute holds the document to the route table:
// every route of Routes and the documentation is described, and the
// document describes no other. Loading validates it as OpenAPI 3.1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doctest.CheckSurface(t, public.OpenAPI(), public.New(nil, "", nil, nil).Routes(), api.Open)
}

// docsHandler builds the surface as Usher serves it: with the open
// documentation routes when docs is non-nil (the openapi setting on).
func docsHandler(t *testing.T, docs *apidoc.Doc) http.Handler {
	t.Helper()
	e := newEnv(t, scenario{})
	jwks := func() ([]byte, error) { return e.Keys.JWKS(e.Clock.Now()) }
	s := api.Surface{Name: "public", Routes: public.New(e.Service, e.Tenant.ID, jwks, nil).Routes()}
	if docs != nil {
		s.Routes = append(s.Routes, docs.Routes(api.Open)...)
	}
	h, err := s.Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDocumentationRoutes: the documents need no public key (they open
// nothing, and a developer reads them before having one); with the
// documents off, their paths are unknown routes (404, the native error).
func TestDocumentationRoutes(t *testing.T) {
	d, err := apidoc.New(public.OpenAPI(), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	doc := doctest.CheckServed(t, docsHandler(t, d), nil)
	if doc.Info.Title != "Usher public API" {
		t.Errorf("title: got %q", doc.Info.Title)
	}
	off := docsHandler(t, nil)
	for _, path := range []string{apidoc.PathJSON, apidoc.PathYAML, apidoc.PathSwagger, "/swagger/swagger-initializer.js"} {
		rec := doctest.Get(t, off, path, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("off: GET %s: got %d, want 404", path, rec.Code)
		}
		apitest.CheckNativeBody(t, rec, "", usher.NotFound)
	}
}
