package thunder

import _ "embed"

//go:embed openapi.yaml
var openapiYAML string

// OpenAPI returns the surface's OpenAPI 3.1 document (YAML), written by hand
// beside Routes; it describes each of its routes and the
// documentation routes of package apidoc.
func OpenAPI() []byte { return []byte(openapiYAML) }
