package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"
)

// FileResolver is a kong.Resolver over a YAML configuration file. Keys are
// flag names, written nested (password: {min: 8}), dotted (password.min) or
// with hyphens or underscores. A key that names no flag stops start-up.
type FileResolver struct {
	path   string
	values map[string]any // normalised key -> value
}

// LoadFile reads and parses a configuration file.
func LoadFile(path string) (*FileResolver, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	r := &FileResolver{path: path, values: map[string]any{}}
	if err := r.flatten("", doc); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *FileResolver) flatten(prefix string, m map[string]any) error {
	for k, v := range m {
		key := normalise(k)
		if prefix != "" {
			key = prefix + "-" + key
		}
		if sub, ok := v.(map[string]any); ok {
			if err := r.flatten(key, sub); err != nil {
				return err
			}
			continue
		}
		if _, dup := r.values[key]; dup {
			return fmt.Errorf("config file %s: setting %s given twice", r.path, key)
		}
		r.values[key] = v
	}
	return nil
}

func normalise(k string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(strings.ToLower(k))
}

// Validate refuses keys that name no flag of the application.
func (r *FileResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			known[f.Name] = true
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(app.Node)
	var unknown []string
	for k := range r.values {
		if !known[k] || k == "config" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("config file %s: unknown setting(s): %s", r.path, strings.Join(unknown, ", "))
	}
	return nil
}

// Resolve returns the file's value for flag, unless the flag's environment
// variable is set: the environment overrides the file, flags override both.
func (r *FileResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	for _, env := range flag.Envs {
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	v, ok := r.values[flag.Name]
	if !ok {
		return nil, nil
	}
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, el := range list {
			out[i] = listItem(el)
		}
		return out, nil
	}
	return fmt.Sprint(v), nil
}

// listItem renders one element of a list setting. A {name, type} map (the
// shape of Thunder's allowed properties) becomes "name:type".
func listItem(el any) string {
	if m, ok := el.(map[string]any); ok {
		if name, ok := m["name"]; ok {
			return fmt.Sprint(name) + ":" + fmt.Sprint(m["type"])
		}
	}
	return fmt.Sprint(el)
}

// FilePath finds the --config flag or USHER_CONFIG before kong parses, so
// the file can feed kong as a resolver.
func FilePath(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return os.Getenv("USHER_CONFIG")
}
