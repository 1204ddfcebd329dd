package thunder_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/thunder"
)

// TestOpenAPIDescribesEveryRoute holds the document to the route table:
// every route of Routes and the documentation is described, and the
// document describes no other. Loading validates it as OpenAPI 3.1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := doctest.CheckSurface(t, thunder.OpenAPI(), thunder.New(newEnv(t, nil, false).Service, "", thunder.Config{}).Routes(), api.Open)
	if doc.Info.Title != "Thunder API" || doc.Info.Description != "A fully customizable user management REST API" {
		t.Errorf("info: got %q, %q; want Thunder's defaults", doc.Info.Title, doc.Info.Description)
	}
}

// docsHandler builds the surface as Usher serves it: with the
// documentation routes when docs is non-nil (the openapi setting on).
func docsHandler(t *testing.T, docs *apidoc.Doc) http.Handler {
	t.Helper()
	e := newEnv(t, nil, false)
	s := thunder.New(e.Service, e.Tenant.ID, thunder.Config{Apps: []thunder.App{{Name: "app", Secret: "s3cret"}}, HeaderCheck: true}).Surface()
	if docs != nil {
		s.Routes = append(s.Routes, docs.Routes(api.Open)...)
	}
	h, err := s.Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestDocumentationRoutes: Thunder serves its documents at its root
// without credentials, under the configured title and description; with
// the documents off, their paths are unknown routes, answered with
// Thunder's 404.
func TestDocumentationRoutes(t *testing.T) {
	d, err := apidoc.New(thunder.OpenAPI(), apidoc.Info{Title: "Acme users", Description: "Acme's user API"})
	if err != nil {
		t.Fatal(err)
	}
	doc := doctest.CheckServed(t, docsHandler(t, d), nil)
	if doc.Info.Title != "Acme users" || doc.Info.Description != "Acme's user API" {
		t.Errorf("info: got %q, %q; want the configured title and description", doc.Info.Title, doc.Info.Description)
	}

	// serve makes the document at its first request (apidoc.Deferred), so
	// every form a setting gives must be made here: with email off the
	// verification paths are left out.
	d, err = apidoc.New(thunder.OpenAPI(), apidoc.Info{Title: "Acme users", Omit: []string{"/verify"}})
	if err != nil {
		t.Fatalf("the document with email off: %v", err)
	}
	if doc := doctest.CheckServed(t, docsHandler(t, d), nil); doc.Paths.Value("/verify") != nil || doc.Paths.Value("/verify/reset") != nil {
		t.Errorf("with email off, the document still describes /verify: %v", doc.Paths.InMatchingOrder())
	}

	off := docsHandler(t, nil)
	for _, path := range []string{apidoc.PathJSON, apidoc.PathYAML, apidoc.PathSwagger, "/swagger/swagger-ui-bundle.js"} {
		rec := doctest.Get(t, off, path, nil)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" ||
			rec.Body.String() != `{"code":404,"message":"HTTP 404 Not Found"}` {
			t.Errorf("off: GET %s: got %d %q %q, want Thunder's 404", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}
