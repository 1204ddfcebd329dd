package backend_test

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/apitest"
	"github.com/usherhq/usher/internal/api/backend"
	"github.com/usherhq/usher/internal/transfer"
	"github.com/usherhq/usher/internal/usher"
)

// TestOpenAPIDescribesEveryRoute holds the document to the route table:
// every route of Routes, Ops and the documentation is described, and the
// document describes no other. Loading validates it as OpenAPI 3.1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	routes := append(backend.New(nil, nil, "").Routes(), backend.Ops(nil, nil)...)
	doctest.CheckSurface(t, backend.OpenAPI(), routes, api.ClientCert)
}

// docsHandler builds the surface as Usher serves it: with the
// documentation routes behind the client certificate when docs is non-nil
// (the openapi setting on).
func docsHandler(t *testing.T, docs *apidoc.Doc) http.Handler {
	t.Helper()
	e := newEnv(t, false)
	s := api.Surface{Name: "backend", Routes: backend.New(e.Service, &transfer.Transfer{Accounts: e.Service}, e.Tenant.ID).Routes()}
	if docs != nil {
		s.Routes = append(s.Routes, docs.Routes(api.ClientCert)...)
	}
	h, err := s.Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDocumentationRoutes: the documents are served to a verified client
// certificate only, like every backend route; with the documents off,
// their paths are unknown routes (404, the native error).
func TestDocumentationRoutes(t *testing.T) {
	d, err := apidoc.New(backend.OpenAPI(), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	h := docsHandler(t, d)
	withCert := func(r *http.Request) {
		r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{clientCert(t)}}}
	}
	doc := doctest.CheckServed(t, h, withCert)
	if doc.Info.Title != "Usher backend API" {
		t.Errorf("title: got %q", doc.Info.Title)
	}
	paths := []string{apidoc.PathJSON, apidoc.PathYAML, apidoc.PathSwagger, "/swagger/swagger-ui.css"}
	for _, path := range paths {
		rec := doctest.Get(t, h, path, nil)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a client certificate: got %d, want 401", path, rec.Code)
		}
		apitest.CheckNativeBody(t, rec, "", usher.Unauthorized)
	}

	off := docsHandler(t, nil)
	for _, path := range paths {
		rec := doctest.Get(t, off, path, withCert)
		if rec.Code != http.StatusNotFound {
			t.Errorf("off: GET %s: got %d, want 404", path, rec.Code)
		}
		apitest.CheckNativeBody(t, rec, "", usher.NotFound)
	}
}
