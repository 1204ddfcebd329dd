package store

import (
	"context"
	"fmt"
)

// RefuseNewerSchema fails when the database's schema (current reads its
// version) is newer than known, the last migration this release has: a
// newer release of Usher upgraded it, and this one would read it wrongly
// (a release from before version 11 finds no user in SQLite's version 11)
// or write rows the newer one cannot read. engine names the database in
// the error.
func RefuseNewerSchema(ctx context.Context, engine string, known int64, current func(context.Context) (int64, error)) error {
	v, err := current(ctx)
	if err != nil {
		return fmt.Errorf("%s: schema version: %w", engine, err)
	}
	if v > known {
		return fmt.Errorf("%s: the database's schema is version %d, newer than the %d this release of Usher knows: "+
			"a newer release upgraded it; run that release, or restore the backup taken before the upgrade", engine, v, known)
	}
	return nil
}
