package main

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"testing"

	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
)

// docsGet fetches a path of a surface with that surface's validating
// client: the backend's with its client certificate, the public one's
// without a key, Thunder's without credentials.
func (s *testServer) docsGet(t *testing.T, surface, path string) response {
	t.Helper()
	switch surface {
	case "backend":
		return doRequest(t, s.Client, "GET", s.Backend+path, "")
	case "public":
		return s.PublicAPI.raw(t, "GET", path, "")
	default:
		return doRequest(t, s.ThunderAPI.http, "GET", s.ThunderAPI.base+path, "")
	}
}

// TestAPIDocumentsOnEverySurface reads each surface's documents as served
// by a running Usher: each is a valid OpenAPI 3.1 document that describes
// exactly the routes that surface serves, Swagger UI comes with its CSP,
// and Thunder's title and description are the configured ones.
func TestAPIDocumentsOnEverySurface(t *testing.T) {
	s := startServer(t, withThunder, func(m *Main) {
		m.Config.ThunderOpenAPITitle = "Acme users"
		m.Config.ThunderOpenAPIDescription = "Acme's Thunder API, served by Usher"
	})
	wantTitles := map[string]string{"backend": "Usher backend API", "public": "Usher public API", "thunder": "Acme users"}
	// The API surfaces; the console (admin) serves HTML pages to a browser,
	// not an API, and has no document.
	checked := 0
	for _, sf := range s.surfaces {
		if _, api := wantTitles[sf.Name]; !api {
			continue
		}
		checked++
		t.Run(sf.Name, func(t *testing.T) {
			r := s.docsGet(t, sf.Name, "/openapi.json").wantStatus(t, "GET /openapi.json", http.StatusOK)
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				t.Errorf("GET /openapi.json: Content-Type %q", r.Header.Get("Content-Type"))
			}
			doc, err := doctest.Parse(r.Body)
			if err != nil {
				t.Fatalf("GET /openapi.json: %v", err)
			}
			if doc.Info.Title != wantTitles[sf.Name] {
				t.Errorf("title: got %q, want %q", doc.Info.Title, wantTitles[sf.Name])
			}
			if sf.Name == "thunder" && doc.Info.Description != "Acme's Thunder API, served by Usher" {
				t.Errorf("description: got %q, want the configured one", doc.Info.Description)
			}
			doctest.CheckRoutes(t, doc, sf.Routes)

			y := s.docsGet(t, sf.Name, "/openapi.yaml").wantStatus(t, "GET /openapi.yaml", http.StatusOK)
			if _, err := doctest.Parse(y.Body); err != nil {
				t.Errorf("GET /openapi.yaml: %v", err)
			}
			page := s.docsGet(t, sf.Name, "/swagger").wantStatus(t, "GET /swagger", http.StatusOK)
			if got := page.Header.Get("Content-Security-Policy"); got != apidoc.CSP {
				t.Errorf("GET /swagger: Content-Security-Policy %q, want %q", got, apidoc.CSP)
			}
			for _, f := range []string{"/swagger/swagger-ui-bundle.js", "/swagger/swagger-ui.css", "/swagger/swagger-initializer.js"} {
				s.docsGet(t, sf.Name, f).wantStatus(t, "GET "+f, http.StatusOK)
			}
		})
	}
	if checked != len(wantTitles) {
		t.Errorf("checked %d API surfaces, want %d", checked, len(wantTitles))
	}

	// The backend's documents are behind mutual TLS like the rest of it.
	noCert := mustClient(t, s.DevCA.CA, "", "")
	if _, err := noCert.Get(s.Backend + "/openapi.json"); err == nil {
		t.Error("backend GET /openapi.json without a client certificate: answered, want the TLS handshake refused")
	} else if ue := new(url.Error); !errors.As(err, &ue) {
		t.Errorf("backend without a client certificate: %v", err)
	}
}

// TestAPIDocumentsOff: with --no-openapi, the documents and Swagger UI
// are gone from every surface: 404 as each surface answers an unknown
// route (Thunder's own JSON 404 on its surface).
func TestAPIDocumentsOff(t *testing.T) {
	s := startServer(t, withThunder, func(m *Main) { m.Config.OpenAPI = false })
	for _, sf := range s.surfaces {
		for _, r := range sf.Routes {
			for _, p := range []string{"GET " + apidoc.PathJSON, "GET " + apidoc.PathYAML, "GET " + apidoc.PathSwagger} {
				if r.Pattern == p {
					t.Errorf("%s: route %q served with openapi off", sf.Name, p)
				}
			}
		}
	}
	for _, path := range []string{apidoc.PathJSON, apidoc.PathYAML, apidoc.PathSwagger, "/swagger/swagger-ui-bundle.js"} {
		s.BackendAPI.do(t, "GET", path, "").wantNativeError(t, "backend GET "+path, http.StatusNotFound, "not_found")
		s.PublicAPI.raw(t, "GET", path, "").wantNativeError(t, "public GET "+path, http.StatusNotFound, "not_found")
		r := s.ThunderAPI.do(t, "GET", path, "", noBasicAuth).wantStatus(t, "thunder GET "+path, http.StatusNotFound)
		if got, want := string(r.Body), `{"code":404,"message":"HTTP 404 Not Found"}`; got != want || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("thunder GET %s: got %q (%s), want Thunder's 404 %s", path, got, r.Header.Get("Content-Type"), want)
		}
	}
}
