package apidoc_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/api/apidoc/doctest"
)

const small = `openapi: 3.1.0
# a comment the YAML form keeps
info:
  title: Small
  version: "1"
  description: The document's own.
paths:
  /things:
    get:
      parameters: &params
        - {name: q, in: query, schema: {type: string}}
      responses:
        '200':
          description: Things.
          content:
            application/json:
              schema: {type: array, items: {type: integer}, maxItems: 10}
  /others:
    get:
      parameters: *params
      responses:
        '204': {description: None.}
`

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		info      apidoc.Info
		wantTitle string
		wantDesc  string
	}{
		{"the document's own info", apidoc.Info{}, "Small", "The document's own."},
		{"title replaced", apidoc.Info{Title: "Acme"}, "Acme", "The document's own."},
		{"both replaced", apidoc.Info{Title: "Acme: users", Description: "Line one,\nline two: \"quoted\""}, "Acme: users", "Line one,\nline two: \"quoted\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := apidoc.New([]byte(small), tc.info)
			if err != nil {
				t.Fatal(err)
			}
			for form, src := range map[string][]byte{"json": d.JSON(), "yaml": d.YAML()} {
				doc, err := doctest.Parse(src)
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if doc.Info.Title != tc.wantTitle || doc.Info.Description != tc.wantDesc {
					t.Errorf("%s: info: got %q, %q; want %q, %q", form, doc.Info.Title, doc.Info.Description, tc.wantTitle, tc.wantDesc)
				}
				if got := doc.Paths.Value("/others").Get.Parameters[0].Value.Name; got != "q" {
					t.Errorf("%s: the aliased parameters: got %q, want q", form, got)
				}
			}
			if !bytes.Contains(d.YAML(), []byte("# a comment the YAML form keeps")) {
				t.Error("the YAML form lost the document's comment")
			}
			// JSON keeps the document's order of keys, as written.
			j := string(d.JSON())
			if strings.Index(j, `"openapi"`) > strings.Index(j, `"info"`) || strings.Index(j, `"/things"`) > strings.Index(j, `"/others"`) {
				t.Errorf("JSON does not keep the order of keys:\n%s", j)
			}
			var v map[string]any
			if err := json.Unmarshal(d.JSON(), &v); err != nil {
				t.Fatal(err)
			}
			max := v["paths"].(map[string]any)["/things"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["maxItems"]
			if max != float64(10) {
				t.Errorf("maxItems: got %#v, want the number 10", max)
			}
		})
	}
}

func TestNewRefusesWhatIsNotADocument(t *testing.T) {
	for name, src := range map[string]string{
		"not YAML":     "openapi: [",
		"a list":       "- a\n- b\n",
		"no info":      "openapi: 3.1.0\npaths: {}\n",
		"a merge key":  "openapi: 3.1.0\ninfo: {title: x, version: '1'}\nbase: &b {a: 1}\nx:\n  <<: *b\n",
		"empty":        "",
		"only comment": "# nothing\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := apidoc.New([]byte(src), apidoc.Info{Title: "T"})
			if err == nil {
				t.Errorf("New(%q): no error", src)
			}
		})
	}
}

// TestRoutesServeTheDocumentAndSwaggerUI serves the routes on a surface
// and checks each answer: media types, the page's CSP, the files.
func TestRoutesServeTheDocumentAndSwaggerUI(t *testing.T) {
	d, err := apidoc.New([]byte(small), apidoc.Info{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.Surface{Name: "test", Routes: d.Routes(api.Open)}.Handler(slog.New(slog.DiscardHandler), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	doctest.CheckServed(t, h, nil)

	page := doctest.Get(t, h, "/swagger", nil)
	for _, h := range []string{"X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options"} {
		if page.Header().Get(h) == "" {
			t.Errorf("GET /swagger: no %s", h)
		}
	}
	if got := doctest.Get(t, h, "/openapi.json", nil).Body.Bytes(); !bytes.Equal(got, d.JSON()) {
		t.Error("GET /openapi.json is not the document")
	}
	if got := doctest.Get(t, h, "/openapi.yaml", nil).Body.Bytes(); !bytes.Equal(got, []byte(small)) {
		t.Error("GET /openapi.yaml is not the document as written")
	}
	// The files served are the vendored files, byte for byte.
	for path, file := range map[string]string{
		"/swagger/swagger-ui-bundle.js":   "swaggerui/swagger-ui-bundle.js",
		"/swagger/swagger-ui.css":         "swaggerui/swagger-ui.css",
		"/swagger/swagger-initializer.js": "swagger-initializer.js",
	} {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rec := doctest.Get(t, h, path, nil)
		if !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("GET %s is not %s", path, file)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "public") {
			t.Errorf("GET %s: Cache-Control: got %q, want public caching", path, cc)
		}
	}
	if rec := doctest.Get(t, h, "/swagger/index.html", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET /swagger/index.html: got %d, want 404 (only the listed files are served)", rec.Code)
	}
}

// TestVendoredSwaggerUI checks the vendored files against SHA256SUMS and
// VERSION (scripts/swagger-ui.sh check compares them with the npm package
// itself, which needs npm and the network).
func TestVendoredSwaggerUI(t *testing.T) {
	version, err := os.ReadFile("swaggerui/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(version)); got != "5.35.0" {
		t.Errorf("VERSION: got %q, want 5.35.0 (DESIGN.md's pin)", got)
	}
	sums, err := os.Open("swaggerui/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	var files []string
	sc := bufio.NewScanner(sums)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join("swaggerui", name))
		if err != nil {
			t.Fatal(err)
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: its SHA-256 is not the one in SHA256SUMS", name)
		}
		files = append(files, name)
	}
	want := []string{"swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css", "LICENSE", "NOTICE"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("SHA256SUMS files (-want +got):\n%s", diff)
	}
}

// Omit drops the paths a setting turned off, and what is below them.
func TestNewOmitsPaths(t *testing.T) {
	d, err := apidoc.New([]byte(small), apidoc.Info{Omit: []string{"/others"}})
	if err != nil {
		t.Fatal(err)
	}
	for form, src := range map[string][]byte{"json": d.JSON(), "yaml": d.YAML()} {
		doc, err := doctest.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if doc.Paths.Value("/others") != nil || doc.Paths.Value("/things") == nil {
			t.Errorf("%s: paths after omitting /others: %v", form, doc.Paths.InMatchingOrder())
		}
	}
	// A prefix is a whole segment: /thing omits neither path.
	d, err = apidoc.New([]byte(small), apidoc.Info{Omit: []string{"/thing"}})
	if err != nil {
		t.Fatal(err)
	}
	if doc, err := doctest.Parse(d.JSON()); err != nil || doc.Paths.Value("/things") == nil {
		t.Errorf("omitting /thing removed /things (%v)", err)
	}
	// Removing the path that holds an anchor another path aliases still
	// gives a whole document in both forms.
	d, err = apidoc.New([]byte(small), apidoc.Info{Omit: []string{"/things"}})
	if err != nil {
		t.Fatal(err)
	}
	for form, src := range map[string][]byte{"json": d.JSON(), "yaml": d.YAML()} {
		doc, err := doctest.Parse(src)
		if err != nil {
			t.Fatalf("%s after omitting the anchor's path: %v\n%s", form, err, src)
		}
		if got := doc.Paths.Value("/others").Get.Parameters[0].Value.Name; got != "q" {
			t.Errorf("%s: the aliased parameters: got %q, want q", form, got)
		}
	}
}

// Deferred serves what New makes, made at the first request; a document
// New refuses is answered as an internal error, and the rest of the
// routes still serve.
func TestDeferred(t *testing.T) {
	d, err := apidoc.New([]byte(small), apidoc.Info{Title: "Later"})
	if err != nil {
		t.Fatal(err)
	}
	surface := func(routes []api.Route) http.Handler {
		h, err := api.Surface{Name: "test", Routes: routes}.Handler(slog.New(slog.DiscardHandler), nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := surface(apidoc.Deferred([]byte(small), apidoc.Info{Title: "Later"}, api.Open))
	doctest.CheckServed(t, h, nil)
	for range 2 {
		if got := doctest.Get(t, h, apidoc.PathJSON, nil).Body.Bytes(); !bytes.Equal(got, d.JSON()) {
			t.Errorf("GET %s is not New's JSON", apidoc.PathJSON)
		}
		if got := doctest.Get(t, h, apidoc.PathYAML, nil).Body.Bytes(); !bytes.Equal(got, d.YAML()) {
			t.Errorf("GET %s is not New's YAML", apidoc.PathYAML)
		}
	}

	bad := surface(apidoc.Deferred([]byte("# nothing\n"), apidoc.Info{}, api.Open))
	for _, path := range []string{apidoc.PathJSON, apidoc.PathYAML} {
		rec := doctest.Get(t, bad, path, nil)
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"internal_error"`) {
			t.Errorf("GET %s of a bad document: got %d %s, want 500 internal_error", path, rec.Code, rec.Body)
		}
	}
	if rec := doctest.Get(t, bad, apidoc.PathSwagger, nil); rec.Code != http.StatusOK {
		t.Errorf("GET %s beside a bad document: got %d, want 200", apidoc.PathSwagger, rec.Code)
	}
}
