package main

import (
	"github.com/usherhq/usher/internal/api"
	"github.com/usherhq/usher/internal/api/apidoc"
	"github.com/usherhq/usher/internal/config"
)

// withDocs adds to s the routes of its API documents (/openapi.json,
// /openapi.yaml, /swagger), unless the openapi setting is off: then those
// paths are unknown routes, answered as the surface answers any (on the
// Thunder surface, Thunder's 404).
func withDocs(c *config.Config, s *api.Surface, src []byte, guard api.Guard, info apidoc.Info) error {
	if !c.OpenAPI {
		return nil
	}
	d, err := apidoc.New(src, info)
	if err != nil {
		return err
	}
	s.Routes = append(s.Routes, d.Routes(guard)...)
	return nil
}
