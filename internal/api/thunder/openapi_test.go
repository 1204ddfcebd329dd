package thunder_test

import (
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
	doc := doctest.Load(t, thunder.OpenAPI())
	if doc.Info.Title != "Thunder API" || doc.Info.Description != "A fully customizable user management REST API" {
		t.Errorf("info: got %q, %q; want Thunder's defaults", doc.Info.Title, doc.Info.Description)
	}
	d, err := apidoc.New(thunder.OpenAPI(), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	routes := append(thunder.New(newEnv(t, nil, false).Service, "", thunder.Config{}).Routes(), d.Routes(api.Open)...)
	doctest.CheckRoutes(t, doc, routes)
}
