package store

import (
	"context"
	"time"
	"unicode/utf8"
)

func (t *tx) Count(ctx context.Context, key string, now, windowStart time.Time) (int, error) {
	var n int
	err := t.row(ctx, qCount, key, millis(now), millis(windowStart)).Scan(&n)
	return n, t.s.wrap(err)
}

// ClearCount deletes the counter key (a missing one is no error).
func (t *tx) ClearCount(ctx context.Context, key string) error {
	_, err := t.exec(ctx, qClearCount, key)
	return t.s.wrap(err)
}

// The counter statements of every password check (prepared on SQLite: see New).
const (
	qCount = `INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN rate_counters.window_start < $3 THEN 1 ELSE rate_counters.count + 1 END,
			window_start = CASE WHEN rate_counters.window_start < $3 THEN $2 ELSE rate_counters.window_start END
		RETURNING count`
	qClearCount = `DELETE FROM rate_counters WHERE key = $1`
)

// ClearCounts deletes every counter whose key starts with prefix (letters,
// digits and ':' only). It scans the counters: it serves an operator's
// unlock, not a hot path. It compares with substr, not LIKE: SQLite's LIKE
// ignores the case of ASCII letters, PostgreSQL's does not.
func (t *tx) ClearCounts(ctx context.Context, prefix string) error {
	_, err := t.exec(ctx, `DELETE FROM rate_counters WHERE substr(key, 1, $1) = $2`, utf8.RuneCountInString(prefix), prefix)
	return t.s.wrap(err)
}
