package main

import (
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/config"
)

// withDocs adds to s the routes of its API documents (/openapi.json,
// /openapi.yaml, /swagger), unless the openapi setting is off: then those
// paths are unknown routes, answered as the surface answers any (on the
// Thunder surface, Thunder's 404). The document is made at its first
// request (apidoc.Deferred).
func withDocs(c *config.Config, s *api.Surface, src []byte, guard api.Guard, info apidoc.Info) {
	if c.OpenAPI {
		s.Routes = append(s.Routes, apidoc.Deferred(src, info, guard)...)
	}
}
