package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkAccessLog is the cost of one request's access-log line: the
// common middleware around a handler that writes a short body, with the
// log on (written to a file, as a service's stderr redirected to one is)
// and off. The difference of the two is what a line costs.
//
//	go test -run '^$' -bench AccessLog -benchtime 200000x -count 10 ./internal/api
func BenchmarkAccessLog(b *testing.B) {
	body := []byte(`{"id":"019a4f0e-7c41-7b8e-9a53-0e4f5d6c7b8a","email":"seed-1@bench.example.com"}` + "\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "usher.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			lw := NewLogWriter(f)
			log := NewLogger(lw, slog.LevelInfo)
			m := NewMetrics(prometheus.NewRegistry())
			srv := common("backend", h, errorWriter{log: log}, m, on, nil)
			req := httptest.NewRequest(http.MethodGet, "/users/019a4f0e-7c41-7b8e-9a53-0e4f5d6c7b8a", nil)
			req.Pattern = "GET /users/{id}"
			req.RemoteAddr = "127.0.0.1:54321"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				clear(w.h)
				srv.ServeHTTP(w, req)
			}
			b.StopTimer()
			// CPU time, this process's (garbage collection included), is
			// what a line costs a busy server; wall time on a shared
			// machine also counts the waits for a CPU.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
			if err := lw.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// processCPU is this process's user and system CPU time, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}
