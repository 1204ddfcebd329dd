// Package internal_test holds the test of the package layout: each package
// imports only what DESIGN.md's table allows it.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/usherhq/usher/"

// allowed is DESIGN.md's import table: for each package (a path under
// internal/), the module packages and the outside modules its non-test
// files may import. The standard library is always allowed. A package
// missing here fails the test: a new package must take its place in the
// table (and in DESIGN.md).
var allowed = map[string][]string{
	"usher":      {},
	"strictjson": {},
	"password":   {"golang.org/x/crypto/", "github.com/trustelem/zxcvbn/"},
	"token":      {"internal/usher", "github.com/go-jose/go-jose/v4"},
	"datakey":    {"internal/token"},
	"totp":       {"github.com/pquerna/otp"},
	"account": {"internal/usher", "internal/password", "internal/token", "internal/strictjson", "internal/totp",
		"golang.org/x/net/idna", "golang.org/x/text/"},
	"account/accounttest": {"internal/usher", "internal/account", "internal/password", "internal/token",
		"internal/store", "internal/store/sqlite", "internal/store/postgres", "internal/store/postgres/pgtest"},
	"store":                 {"internal/usher", "internal/account"},
	"store/sqlite":          {"internal/store", "github.com/pressly/goose/v3", "modernc.org/sqlite"},
	"store/postgres":        {"internal/store", "github.com/pressly/goose/v3", "github.com/jackc/pgx/v5"},
	"store/postgres/pgtest": {"github.com/jackc/pgx/v5"},
	"store/storetest":       {"internal/usher", "internal/account", "internal/store"},
	"outbox":                {"internal/usher"},
	"mail":                  {"internal/usher", "github.com/wneessen/go-mail"},
	"server":                {},
	"config":                {"github.com/alecthomas/kong", "gopkg.in/yaml.v3"},
	"api":                   {"internal/usher", "internal/strictjson", "github.com/prometheus/client_golang/", "github.com/go-chi/httprate"},
	"api/apitest":           {"internal/usher", "github.com/google/go-cmp"},
	"api/backend":           {"internal/usher", "internal/account", "internal/api"},
	"api/public":            {"internal/usher", "internal/account", "internal/api", "internal/token", "internal/totp"},
	"api/thunder":           {"internal/usher", "internal/account", "internal/api"},
	"api/thunderadmin":      {"internal/usher", "internal/api"},
	"api/apidoc":            {"internal/api", "gopkg.in/yaml.v3"},
	"api/apidoc/doctest":    {"internal/api", "internal/api/apidoc", "github.com/getkin/kin-openapi/", "gopkg.in/yaml.v3"},
	"api/admin":             {"internal/usher", "internal/account", "internal/api"},
	"transfer":              {"internal/usher", "internal/account", "internal/password", "internal/strictjson"},
	"webhook":               {"internal/usher"},
}

func TestPackagesImportOnlyWhatTheTableAllows(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package internal/%s is not in the import table (layers_test.go and DESIGN.md)", pkg)
			return nil
		}
		seen[pkg] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if isStd(imp) || permitted(strings.TrimPrefix(imp, module), rules) {
				continue
			}
			t.Errorf("%s imports %s, which internal/%s may not (DESIGN.md's package table)", path, imp, pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowed {
		if !seen[pkg] {
			if _, err := os.Stat(pkg); err != nil {
				t.Errorf("the import table names internal/%s, which does not exist", pkg)
			}
		}
	}
}

// permitted reports whether imp (module-relative for the module's own
// packages) matches a rule. The module's own packages match exactly (a
// surface may import internal/api, never a sibling under it); an outside
// module's rule also admits its subpackages.
func permitted(imp string, rules []string) bool {
	return slices.ContainsFunc(rules, func(r string) bool {
		if imp == r || strings.HasPrefix(r, "internal/") {
			return imp == r
		}
		return strings.HasSuffix(r, "/") && strings.HasPrefix(imp, r) || strings.HasPrefix(imp, r+"/")
	})
}

// isStd reports whether imp is a standard library package: its first
// element has no dot.
func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}
