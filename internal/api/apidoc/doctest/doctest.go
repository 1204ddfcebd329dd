// Package doctest holds the tests' side of the API documents: it loads a
// surface's OpenAPI document with kin-openapi (validating it as OpenAPI
// 3.1), checks it against the surface's route table, and validates live
// requests and responses against it.
package doctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
)

// Load parses and validates a document; it must be OpenAPI 3.1.
func Load(t testing.TB, src []byte) *openapi3.T {
	t.Helper()
	doc, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Parse parses and validates a document; it must be OpenAPI 3.1.
func Parse(src []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(src)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("openapi: got %q, want 3.1.x", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

// Operations returns "METHOD /path" for every operation of doc, sorted.
func Operations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// RouteOperations returns "METHOD /path" for every route, sorted: the
// http.ServeMux pattern with its {$} (end of path) dropped, which is how
// OpenAPI writes the same path.
func RouteOperations(routes []api.Route) []string {
	ops := make([]string, 0, len(routes))
	for _, r := range routes {
		ops = append(ops, strings.TrimSuffix(r.Pattern, "{$}"))
	}
	slices.Sort(ops)
	return ops
}

// CheckSurface loads src, a surface's document (failing on one that is not
// valid OpenAPI 3.1), and holds it to routes together with the routes that
// serve the document itself behind guard. It returns the document.
func CheckSurface(t testing.TB, src []byte, routes []api.Route, guard api.Guard) *openapi3.T {
	t.Helper()
	doc := Load(t, src)
	d, err := apidoc.New(src, apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	CheckRoutes(t, doc, append(routes, d.Routes(guard)...))
	return doc
}

// CheckRoutes fails t for each route the document does not describe and
// each operation of the document that no route serves.
func CheckRoutes(t testing.TB, doc *openapi3.T, routes []api.Route) {
	t.Helper()
	for _, m := range RouteMismatches(doc, routes) {
		t.Error(m)
	}
}

// RouteMismatches lists the routes the document does not describe and the
// operations of the document that no route serves.
func RouteMismatches(doc *openapi3.T, routes []api.Route) []string {
	var out []string
	documented, served := Operations(doc), RouteOperations(routes)
	for _, op := range served {
		if !slices.Contains(documented, op) {
			out = append(out, fmt.Sprintf("route %q is missing from the OpenAPI document", op))
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			out = append(out, fmt.Sprintf("the OpenAPI document describes %q, which no route serves", op))
		}
	}
	return out
}

// Validator checks requests and their responses against a document.
type Validator struct {
	router router
}

// NewValidator returns a Validator of doc.
func NewValidator(doc *openapi3.T) (*Validator, error) {
	if doc.Paths == nil {
		return nil, errors.New("the document has no paths")
	}
	return &Validator{router: router{doc: doc}}, nil
}

// Check returns what is wrong with an exchange in the document's eyes, or
// "". req's body is reqBody (already read); res's is resBody.
//
// A request the document does not route (no such path or method) must be
// refused with 404 or 405. A request the document's schemas reject must
// be refused with a 4xx (or 503, which may come first). Every response is
// checked: its status must be documented for the operation, with its
// headers, content type and body.
func (v *Validator) Check(req *http.Request, reqBody []byte, status int, header http.Header, resBody []byte) string {
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return "" // a CORS preflight: the protocol's, not the API's
	}
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	if len(reqBody) > 0 && probe.Header.Get("Content-Type") == "" {
		// Usher reads a body without Content-Type as JSON (API.md).
		probe.Header.Set("Content-Type", "application/json")
	}
	route, params, err := v.router.FindRoute(probe)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return ""
		}
		return fmt.Sprintf("the document has no operation for it (%v), yet it was answered %d", err, status)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // the surfaces check their own
		MultiError:         true, IncludeResponseStatus: true, SkipSettingDefaults: true,
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	var problems []string
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		if status < 400 || status >= 500 && status != http.StatusServiceUnavailable {
			problems = append(problems, fmt.Sprintf("the document rejects the request (%v), yet it was answered %d", err, status))
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(resBody)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("response does not match the document: %v", err))
	}
	return strings.Join(problems, "; ")
}

// Transport is an http.RoundTripper that checks every exchange with a
// Validator and reports each mismatch to Fail (with the exchange named).
// It reads each response body whole before handing it back.
type Transport struct {
	Base      http.RoundTripper
	Validator *Validator
	Fail      func(format string, args ...any)
}

// RoundTrip runs req on Base and checks the exchange.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	res, err := t.Base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	resBody, readErr := io.ReadAll(res.Body)
	res.Body.Close()
	if readErr != nil {
		// A response cut short (an export aborted on purpose): hand back
		// what came and the error; there is no whole answer to check.
		res.Body = io.NopCloser(io.MultiReader(bytes.NewReader(resBody), errReader{readErr}))
		return res, nil
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if problem := t.Validator.Check(req, reqBody, res.StatusCode, res.Header, resBody); problem != "" {
		t.Fail("openapi: %s %s → %d %.300q: %s", req.Method, req.URL.RequestURI(), res.StatusCode, resBody, problem)
	}
	return res, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
