package thunder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Property is one allowed custom property, as in Thunder's configuration.
type Property struct {
	Name string
	Type string // string, integer, double, boolean, list, map
}

// Properties validates custom properties the way Thunder does.
type Properties struct {
	Allowed []Property
	// AllowSubset accepts users that lack some allowed properties.
	AllowSubset bool
	// AllowSuperset accepts properties that are not in Allowed.
	AllowSuperset bool
}

// ParseProperty parses "name:type".
func ParseProperty(s string) (Property, error) {
	name, typ, ok := strings.Cut(s, ":")
	name, typ = strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(typ))
	if !ok || name == "" {
		return Property{}, fmt.Errorf("thunder property %q is not NAME:TYPE", s)
	}
	switch typ {
	case "string", "integer", "double", "boolean", "list", "map":
		return Property{Name: name, Type: typ}, nil
	}
	return Property{}, fmt.Errorf("thunder property %q: type must be string, integer, double, boolean, list or map", s)
}

// Valid reports whether props (top-level custom properties) pass.
func (p Properties) Valid(props map[string]json.RawMessage) bool {
	allowed := make(map[string]string, len(p.Allowed))
	for _, a := range p.Allowed {
		allowed[a.Name] = a.Type
	}
	for _, a := range p.Allowed {
		v, ok := props[a.Name]
		if !ok {
			if !p.AllowSubset {
				return false
			}
			continue
		}
		if !hasType(v, a.Type) {
			return false
		}
	}
	if !p.AllowSuperset {
		for name := range props {
			if _, ok := allowed[name]; !ok {
				return false
			}
		}
	}
	return true
}

func hasType(v json.RawMessage, typ string) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return false
	}
	switch typ {
	case "string":
		return v[0] == '"'
	case "boolean":
		return string(v) == "true" || string(v) == "false"
	case "list":
		return v[0] == '['
	case "map":
		return v[0] == '{'
	case "double":
		return v[0] == '-' || v[0] >= '0' && v[0] <= '9'
	case "integer":
		if !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
			return false
		}
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}
