package doctest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// router finds a request's operation in a document the way http.ServeMux
// finds a route: the path's segments one for one, a {parameter} matching
// one non-empty segment, a literal segment before a parameter ("/users/
// import" over "/users/{id}"), and "/users/" distinct from "/users".
// kin-openapi's own routers differ: its legacy router lets a parameter
// match an empty segment (DELETE /users found DELETE /users/{id}), and
// its gorilla/mux router brings another module.
type router struct {
	doc *openapi3.T
}

func (rt router) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	segs := strings.Split(req.URL.EscapedPath(), "/")
	var best string
	var bestParams map[string]string
	bestLiterals := -1
	for path := range rt.doc.Paths.Map() {
		params, literals, ok := match(strings.Split(path, "/"), segs)
		if ok && literals > bestLiterals {
			best, bestParams, bestLiterals = path, params, literals
		}
	}
	if best == "" {
		return nil, nil, routers.ErrPathNotFound
	}
	item := rt.doc.Paths.Value(best)
	op := item.GetOperation(req.Method)
	if op == nil {
		return nil, nil, routers.ErrMethodNotAllowed
	}
	route := &routers.Route{Spec: rt.doc, Path: best, PathItem: item, Method: req.Method, Operation: op}
	return route, bestParams, nil
}

// match matches a path template's segments against a request's.
func match(tmpl, segs []string) (params map[string]string, literals int, ok bool) {
	if len(tmpl) != len(segs) {
		return nil, 0, false
	}
	params = map[string]string{}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, 0, false
			}
			params[t[1:len(t)-1]] = v
			continue
		}
		if t != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, true
}
