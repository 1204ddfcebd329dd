package doctest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
)

const doc = `openapi: 3.1.0
info: {title: Test, version: "1"}
paths:
  /users:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [email]
              additionalProperties: false
              properties:
                email: {type: string}
      responses:
        '201':
          description: Created.
          content:
            application/json:
              schema:
                type: object
                required: [id]
                properties:
                  id: {type: string}
        '400': {description: Bad., content: {application/json: {schema: {type: object}}}}
  /users/:
    get:
      responses:
        '200': {description: Listed.}
  /users/import:
    post:
      responses:
        '200': {description: Imported.}
  /users/{id}:
    delete:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        '204': {description: Deleted.}
`

func TestRouteMismatches(t *testing.T) {
	d := doctest.Load(t, []byte(doc))
	route := func(p string) api.Route { return api.Route{Pattern: p} }
	got := doctest.RouteMismatches(d, []api.Route{
		route("POST /users"), route("GET /users/{$}"), route("DELETE /users/{id}"), route("GET /users/{id}"),
	})
	want := []string{
		`route "GET /users/{id}" is missing from the OpenAPI document`,
		`the OpenAPI document describes "POST /users/import", which no route serves`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatches (-want +got):\n%s", diff)
	}
}

func TestLoadRefusesOtherVersions(t *testing.T) {
	src := strings.Replace(doc, "openapi: 3.1.0", "openapi: 3.0.3", 1)
	if _, err := doctest.Parse([]byte(src)); err == nil {
		t.Error("an OpenAPI 3.0 document was accepted")
	}
	if _, err := doctest.Parse([]byte(strings.Replace(doc, "title: Test, ", "", 1))); err == nil {
		t.Error("a document without a title was accepted")
	}
}

func TestValidatorCheck(t *testing.T) {
	v, err := doctest.NewValidator(doctest.Load(t, []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name, method, path, body string
		status                   int
		header                   http.Header
		resBody                  string
		want                     string // a part of the problem; "" for none
	}{
		{"a documented exchange", "POST", "/users", `{"email":"a@x"}`, 201, json, `{"id":"1"}`, ""},
		{"a body without Content-Type is JSON", "POST", "/users", `{"email":"a@x"}`, 201, json, `{"id":"1"}`, ""},
		{"an undocumented status", "POST", "/users", `{"email":"a@x"}`, 409, json, `{}`, "status is not supported"},
		{"a response body off its schema", "POST", "/users", `{"email":"a@x"}`, 201, json, `{"name":"x"}`, "doesn't match schema"},
		{"a response of another media type", "POST", "/users", `{"email":"a@x"}`, 201, http.Header{"Content-Type": {"text/plain"}}, `{"id":"1"}`, "Content-Type"},
		{"a rejected request refused", "POST", "/users", `{"mail":"a@x"}`, 400, json, `{}`, ""},
		{"a rejected request accepted", "POST", "/users", `{"mail":"a@x"}`, 201, json, `{"id":"1"}`, "the document rejects the request"},
		{"an unknown path refused", "GET", "/nothing", "", 404, json, `{}`, ""},
		{"an unknown path served", "GET", "/nothing", "", 200, json, `{}`, "no operation"},
		{"an unknown method refused", "PUT", "/users", "", 405, json, `{}`, ""},
		{"an empty parameter is no match", "DELETE", "/users/", "", 204, nil, "", "no operation"},
		{"a slash of its own", "GET", "/users/", "", 200, nil, "", ""},
		{"without the slash", "GET", "/users", "", 200, nil, "", "no operation"},
		{"a literal before a parameter", "POST", "/users/import", "", 200, nil, "", ""},
		{"a parameter", "DELETE", "/users/abc", "", 204, nil, "", ""},
		{"a preflight", "OPTIONS", "/anything", "", 204, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.body != "" && !strings.Contains(tc.name, "without Content-Type") {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.method == "OPTIONS" {
				req.Header.Set("Origin", "https://example.com")
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			got := v.Check(req, []byte(tc.body), tc.status, tc.header, []byte(tc.resBody))
			switch {
			case tc.want == "" && got != "":
				t.Errorf("got problem %q, want none", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("got problem %q, want one with %q", got, tc.want)
			}
		})
	}
}

// TestTransport checks exchanges over HTTP and hands the bodies on whole.
func TestTransport(t *testing.T) {
	v, err := doctest.NewValidator(doctest.Load(t, []byte(doc)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"name":"not an id"}`))
	}))
	t.Cleanup(srv.Close)
	var problems []string
	c := &http.Client{Transport: &doctest.Transport{Base: http.DefaultTransport, Validator: v, Fail: func(f string, a ...any) {
		problems = append(problems, f)
	}}}
	res, err := c.Post(srv.URL+"/users", "application/json", strings.NewReader(`{"email":"a@x"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || string(b) != `{"name":"not an id"}` {
		t.Errorf("body handed on: got %q, %v", b, err)
	}
	if len(problems) != 1 {
		t.Errorf("problems: got %d, want 1", len(problems))
	}
}
