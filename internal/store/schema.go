package store

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3"
)

// RefuseNewerSchema fails when the database's schema is a version newer
// than the last of p's migrations: a newer release of Usher upgraded it,
// and this one would read it wrongly (a release from before version 11
// finds no user in SQLite's version 11) or write rows the newer one cannot
// read. engine names the database in the error.
func RefuseNewerSchema(ctx context.Context, p *goose.Provider, engine string) error {
	sources := p.ListSources()
	if len(sources) == 0 {
		return nil
	}
	known := sources[len(sources)-1].Version
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("%s: schema version: %w", engine, err)
	}
	if current > known {
		return fmt.Errorf("%s: the database's schema is version %d, newer than the %d this release of Usher knows: "+
			"a newer release upgraded it; run that release, or restore the backup taken before the upgrade", engine, current, known)
	}
	return nil
}
