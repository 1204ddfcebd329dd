package public_test

import (
	"testing"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/public"
)

// TestOpenAPIDescribesEveryRoute holds the document to the route table:
// every route of Routes and the documentation is described, and the
// document describes no other. Loading validates it as OpenAPI 3.1.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := doctest.Load(t, public.OpenAPI())
	d, err := apidoc.New(public.OpenAPI(), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	routes := append(public.New(nil, "", nil, nil).Routes(), d.Routes(api.Open)...)
	doctest.CheckRoutes(t, doc, routes)
}
