package backend_test

import (
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/backend"
)

// TestOpenAPIDescribesEveryRoute holds the document to the route table:
// every route of Routes, Ops and the documentation is described, and the
// document describes no other. Loading validates it as OpenAPI 3.1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := doctest.Load(t, backend.OpenAPI())
	d, err := apidoc.New(backend.OpenAPI(), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	routes := append(backend.New(nil, nil, "").Routes(), backend.Ops(nil, nil)...)
	routes = append(routes, d.Routes(api.ClientCert)...)
	doctest.CheckRoutes(t, doc, routes)
}
