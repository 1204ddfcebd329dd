package doctest

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/usherhq/usher/internal/api/apidoc"
)

// Get requests path from h, with edit applied (credentials, TLS state).
func Get(t testing.TB, h http.Handler, path string, edit func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if edit != nil {
		edit(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// CheckServed checks a surface's documentation routes as h serves them:
// /openapi.json and /openapi.yaml are the same valid OpenAPI 3.1 document
// with their media types, /swagger is the page under apidoc.CSP with no
// inline script, and its files are served. It returns the document.
func CheckServed(t testing.TB, h http.Handler, edit func(*http.Request)) *openapi3.T {
	t.Helper()
	js := Get(t, h, apidoc.PathJSON, edit)
	checkAnswer(t, js, "application/json")
	doc, err := Parse(js.Body.Bytes())
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	ym := Get(t, h, apidoc.PathYAML, edit)
	checkAnswer(t, ym, "application/yaml")
	if _, err := Parse(ym.Body.Bytes()); err != nil {
		t.Errorf("GET /openapi.yaml: %v", err)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(js.Body.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(ym.Body.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Through JSON, so both sides have JSON's types.
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML = nil
	if err := json.Unmarshal(b, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Error("/openapi.json and /openapi.yaml are not the same document")
	}

	page := Get(t, h, apidoc.PathSwagger, edit)
	checkAnswer(t, page, "text/html")
	if got := page.Header().Get("Content-Security-Policy"); got != apidoc.CSP {
		t.Errorf("GET /swagger: Content-Security-Policy: got %q, want %q", got, apidoc.CSP)
	}
	body := page.Body.String()
	for _, tag := range strings.Split(body, "<script")[1:] {
		if !strings.HasPrefix(tag, ` src="`) || !strings.HasPrefix(strings.SplitN(tag, ">", 2)[1], "</script>") {
			t.Errorf("GET /swagger: an inline script (the CSP would block it): <script%.60s", tag)
		}
	}
	for _, a := range []struct{ path, mediaType string }{
		{"swagger/swagger-ui-bundle.js", "text/javascript"},
		{"swagger/swagger-ui.css", "text/css"},
		{"swagger/swagger-initializer.js", "text/javascript"},
	} {
		if !strings.Contains(body, `"`+a.path+`"`) {
			t.Errorf("GET /swagger: the page does not load %s", a.path)
		}
		rec := Get(t, h, "/"+a.path, edit)
		checkAnswer(t, rec, a.mediaType)
	}
	return doc
}

func checkAnswer(t testing.TB, rec *httptest.ResponseRecorder, mediaType string) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %.200q, want 200", rec.Code, rec.Body.String())
	}
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != mediaType {
		t.Errorf("Content-Type: got %q, want %s", rec.Header().Get("Content-Type"), mediaType)
	}
	if rec.Body.Len() == 0 {
		t.Error("empty body")
	}
}
