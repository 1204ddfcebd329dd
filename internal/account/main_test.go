package account_test

import (
	"os"
	"testing"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
)

// On PostgreSQL, the tests' stores reuse the schemas of ended tests.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
