// Package apidoc serves a surface's API description: its OpenAPI document
// as /openapi.json and /openapi.yaml, and Swagger UI at /swagger, whose
// files are embedded (swaggerui/, from the npm package swagger-ui-dist).
// Each surface keeps its hand-written document beside its route table.
package apidoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/usherhq/usher/internal/api"
)

// Info replaces fields of a document's info object; an empty field keeps
// the document's own.
type Info struct {
	Title, Description, Version string
	// Omit removes these paths (and the paths below them) from the
	// document: routes a setting turned off are not described.
	Omit []string
}

// Doc is a surface's OpenAPI document, rendered once in both forms.
type Doc struct {
	yaml, json []byte
}

// New parses a YAML OpenAPI document and applies info.
func New(src []byte, info Info) (*Doc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("openapi document: not a YAML mapping")
	}
	d := &Doc{yaml: src}
	changed := false
	for field, v := range map[string]string{"title": info.Title, "description": info.Description, "version": info.Version} {
		if v == "" {
			continue
		}
		infoNode := child(root.Content[0], "info")
		if infoNode == nil || infoNode.Kind != yaml.MappingNode {
			return nil, errors.New("openapi document: no info object")
		}
		set(infoNode, field, v)
		changed = true
	}
	if len(info.Omit) > 0 {
		paths := child(root.Content[0], "paths")
		if paths == nil || paths.Kind != yaml.MappingNode {
			return nil, errors.New("openapi document: no paths object")
		}
		kept := paths.Content[:0]
		for i := 0; i+1 < len(paths.Content); i += 2 {
			if omitted(paths.Content[i].Value, info.Omit) {
				changed = true
				continue
			}
			kept = append(kept, paths.Content[i], paths.Content[i+1])
		}
		paths.Content = kept
		// An alias whose anchor was in an omitted path would dangle in
		// the YAML form: write every alias out in full.
		expandAliases(root.Content[0])
	}
	if changed {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&root); err != nil {
			return nil, fmt.Errorf("openapi document: %w", err)
		}
		d.yaml = b.Bytes()
	}
	var compact bytes.Buffer
	if err := writeJSON(&compact, &root); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	d.json = append(pretty.Bytes(), '\n')
	return d, nil
}

// expandAliases replaces each alias below n by a copy of what it names.
func expandAliases(n *yaml.Node) {
	for i, c := range n.Content {
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			cp := *c.Alias
			cp.Anchor = ""
			n.Content[i] = &cp
			c = &cp
		}
		expandAliases(c)
	}
}

// omitted reports whether path is one of prefixes or below one.
func omitted(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// JSON returns the document as JSON.
func (d *Doc) JSON() []byte { return bytes.Clone(d.json) }

// YAML returns the document as YAML.
func (d *Doc) YAML() []byte { return bytes.Clone(d.yaml) }

// Paths of the routes Routes adds; each surface's document describes them.
const (
	PathJSON    = "/openapi.json"
	PathYAML    = "/openapi.yaml"
	PathSwagger = "/swagger"
)

// Routes returns the routes that serve the document and Swagger UI, behind
// guard (the surface's own for the backend's mutual TLS, api.Open where
// the documents are public).
func (d *Doc) Routes(guard api.Guard) []api.Route {
	return routes(func() (*Doc, error) { return d, nil }, guard)
}

// Deferred returns the routes Routes would for New(src, info), but makes
// the document at the first request for either form of it rather than
// now: a server that is never asked for its documents never parses them,
// about 0.9 MiB of an idle server's memory for Usher's three. Should New
// fail, each request for the document is answered as an internal error;
// the documents Usher embeds are made with every setting by their tests.
func Deferred(src []byte, info Info, guard api.Guard) []api.Route {
	return routes(sync.OnceValues(func() (*Doc, error) { return New(src, info) }), guard)
}

func routes(doc func() (*Doc, error), guard api.Guard) []api.Route {
	serve := func(contentType string, body func(*Doc) []byte) api.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) error {
			d, err := doc()
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-cache")
			_, err = w.Write(body(d))
			return err
		}
	}
	routes := []api.Route{
		{Pattern: "GET " + PathJSON, Guard: guard, Handler: serve("application/json", func(d *Doc) []byte { return d.json })},
		{Pattern: "GET " + PathYAML, Guard: guard, Handler: serve("application/yaml", func(d *Doc) []byte { return d.yaml })},
		{Pattern: "GET " + PathSwagger, Guard: guard, Handler: swaggerPage},
	}
	for _, a := range assets() {
		routes = append(routes, api.Route{Pattern: "GET " + PathSwagger + "/" + a.name, Guard: guard, Handler: a.serve})
	}
	return routes
}

// child returns the value of key in mapping m, or nil.
func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set puts the string v under key in mapping m.
func set(m *yaml.Node, key, v string) {
	if n := child(m, key); n != nil {
		n.Kind, n.Tag, n.Value, n.Style, n.Content = yaml.ScalarNode, "!!str", v, 0, nil
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
}

// writeJSON writes a YAML node as JSON, keeping the order of its keys (a
// map would sort them, and the documents read top-down).
func writeJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("a YAML document must hold one value")
		}
		return writeJSON(b, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: keys must be plain strings", k.Line)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k.Value)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return err
			}
			enc, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			b.Write(enc)
		default: // strings, and timestamps written as text
			writeString(b, n.Value)
		}
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}
