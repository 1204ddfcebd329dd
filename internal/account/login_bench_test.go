package account_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/account"
	"github.com/usherhq/usher/internal/account/accounttest"
)

// BenchmarkLogin is a sign-in's work beside its hash (which is cheap here):
// the user's read, the lockout's reservation (with lockout on, as shipped)
// and the transaction that records the check and starts the session, on a
// real SQLite file with synchronous=FULL. pages/op is the database pages a
// sign-in writes to the WAL (each one is written and synced).
//
//	go test -run '^$' -bench Login -benchtime 2000x ./internal/account
func BenchmarkLogin(b *testing.B) {
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		b.Skip("pages/op is SQLite's WAL")
	}
	for _, bc := range []struct {
		name string
		max  int
	}{{"lockout", 3}, {"no-lockout", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			e := accounttest.New(b, func(c *account.Config) { c.Lockout.Max = bc.max })
			ctx := context.Background()
			const email, pw = "bench@example.com", "correct horse battery"
			if _, err := e.Service.Register(ctx, e.Tenant.ID, email, pw); err != nil {
				b.Fatal(err)
			}
			// accounttest's database is the one file in a TempDir of this
			// benchmark; a second connection reads its WAL's length.
			paths, err := filepath.Glob(filepath.Join(filepath.Dir(b.TempDir()), "*", "usher.db"))
			if err != nil || len(paths) != 1 {
				b.Fatalf("the store's file: %v %v", paths, err)
			}
			db, err := sql.Open("sqlite", "file:"+paths[0])
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			checkpoint := func(mode string) int {
				var busy, n, done int
				if err := db.QueryRow(`PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &n, &done); err != nil || busy != 0 {
					b.Fatalf("wal_checkpoint(%s): busy %d, %v", mode, busy, err)
				}
				return n
			}
			// frames returns how many frames the WAL holds and empties it,
			// so that the next count starts at zero.
			frames := func() int {
				n := checkpoint("PASSIVE")
				checkpoint("TRUNCATE")
				return n
			}
			frames()
			pages, logins := 0, 0
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := e.Service.Login(ctx, e.Tenant.ID, email, pw); err != nil {
					b.Fatal(err)
				}
				// SQLite checkpoints by itself at 1,000 frames: count and
				// empty the WAL well before.
				if logins++; logins%50 == 0 {
					b.StopTimer()
					cpu0 -= cpuTime()
					pages += frames()
					cpu0 += cpuTime()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(logins), "cpu-µs/op")
			if logins >= 50 {
				b.ReportMetric(float64(pages)/float64(logins-logins%50), "pages/op")
			}
		})
	}
}

// cpuTime is the process's CPU time so far, user and system: what a
// sign-in costs the machine, where ns/op also counts the waits for fsync.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
