package store

import (
	"context"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/usher"
)

// SigningKeys returns every stored signing key.
func (s *Store) SigningKeys(ctx context.Context) ([]usher.SigningKey, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.r.QueryContext(ctx, `SELECT kid, algorithm, public_key, private_key, created_at, retired_at
		FROM signing_keys ORDER BY created_at`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []usher.SigningKey
	for rows.Next() {
		var k usher.SigningKey
		var created, retired int64
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.Public, &k.Private, &created, &retired); err != nil {
			return nil, s.wrap(err)
		}
		k.CreatedAt = fromMillis(created)
		if retired != 0 {
			k.RetiredAt = fromMillis(retired)
		}
		out = append(out, k)
	}
	return out, s.wrap(rows.Err())
}

// AddSigningKey stores k and retires every other key that may sign.
func (s *Store) AddSigningKey(ctx context.Context, k usher.SigningKey) error {
	return s.update(ctx, func(ctx context.Context, atx account.Tx) error {
		t := atx.(*tx)
		if _, err := t.exec(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at = 0`, millis(k.CreatedAt)); err != nil {
			return s.wrap(err)
		}
		_, err := t.exec(ctx, `INSERT INTO signing_keys (kid, algorithm, public_key, private_key, created_at)
			VALUES ($1, $2, $3, $4, $5)`, k.KID, k.Algorithm, k.Public, k.Private, millis(k.CreatedAt))
		return s.wrap(err)
	})
}
