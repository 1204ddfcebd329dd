package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DBResult is the database size per user on SQLite.
type DBResult struct {
	Users int `json:"users"`
	// Method is how the compacted size was obtained: VACUUM INTO a copy
	// with the sqlite3 command when there is one, otherwise the pages in use
	// according to the database header (what VACUUM would keep, before it
	// repacks half-empty pages).
	Method          string  `json:"method"`
	EmptyBytes      int64   `json:"empty_bytes"`       // compacted, before seeding
	FileBytes       int64   `json:"file_bytes"`        // usher.db after seeding, checkpointed, before compaction
	Bytes           int64   `json:"bytes"`             // compacted, after seeding
	BytesPerUser    float64 `json:"bytes_per_user"`    // Bytes / Users
	MarginalPerUser float64 `json:"marginal_per_user"` // (Bytes - EmptyBytes) / Users
}

// StartupResult holds the start-to-ready samples and the idle RSS.
type StartupResult struct {
	SamplesMs []float64 `json:"samples_ms"`
	MedianMs  float64   `json:"median_ms"`
	MaxMs     float64   `json:"max_ms"`
	IdleRSS   uint64    `json:"idle_rss_bytes"`
	// The idle RSS's two parts: anonymous memory (heap, stacks) and pages
	// of files mapped in, nearly all of them the usher binary's own code
	// and read-only data (clean pages the kernel can drop and reread).
	IdleAnon uint64 `json:"idle_rss_anon_bytes"`
	IdleFile uint64 `json:"idle_rss_file_bytes"`
	// The hashing process's RSS and anonymous part at the same moment
	// (0: Usher hashes in its own process).
	HashProcRSS  uint64  `json:"hash_process_rss_bytes"`
	HashProcAnon uint64  `json:"hash_process_rss_anon_bytes"`
	SettleS      float64 `json:"settle_s"` // idle time before IdleRSS was read
}

func (e *env) dbPath() string { return filepath.Join(e.data, "usher.db") }

// measureDatabase starts Usher on a fresh data directory, measures the
// empty database, seeds the users and measures it again. Usher is stopped
// (SIGTERM: it checkpoints the WAL into the file and removes it) before each
// measurement. It also loads the development client certificate.
func (e *env) measureDatabase() error {
	if err := e.startUsher(usherDefault); err != nil {
		return err
	}
	var err error
	if e.clientTLS, err = clientTLS(devTLS(e.data)); err != nil {
		return err
	}
	if err := e.stopUsher(); err != nil {
		return err
	}
	res := &DBResult{Users: e.cfg.Users}
	if _, res.EmptyBytes, res.Method, err = e.compactSize(); err != nil {
		return err
	}
	if err := e.startUsher(usherDefault); err != nil {
		return err
	}
	e.logf("seeding %d users (a password hash each)", e.cfg.Users)
	t0 := time.Now()
	if err := e.seedUsers(e.cfg.Users); err != nil {
		return err
	}
	e.logf("seeded in %.1fs", time.Since(t0).Seconds())
	if err := e.stopUsher(); err != nil {
		return err
	}
	if res.FileBytes, res.Bytes, res.Method, err = e.compactSize(); err != nil {
		return err
	}
	if res.Users > 0 {
		res.BytesPerUser = float64(res.Bytes) / float64(res.Users)
		res.MarginalPerUser = float64(res.Bytes-res.EmptyBytes) / float64(res.Users)
	}
	e.report.DB = res
	return nil
}

// compactSize returns the database file's size and its compacted size.
func (e *env) compactSize() (file, compact int64, method string, err error) {
	if fi, err := os.Stat(e.dbPath() + "-wal"); err == nil && fi.Size() > 0 {
		return 0, 0, "", fmt.Errorf("%s-wal still holds %d bytes after a clean stop: the checkpoint did not happen", e.dbPath(), fi.Size())
	}
	fi, err := os.Stat(e.dbPath())
	if err != nil {
		return 0, 0, "", err
	}
	file = fi.Size()
	if sqlite, err := exec.LookPath("sqlite3"); err == nil {
		dst := filepath.Join(e.work, fmt.Sprintf("vacuum-%d.db", time.Now().UnixNano()))
		out, err := exec.Command(sqlite, "-bail", e.dbPath(), "VACUUM INTO '"+dst+"'").CombinedOutput()
		if err == nil {
			defer os.Remove(dst)
			// Bytes per table and index (dbstat), for what each costs a user.
			if out, err := exec.Command(sqlite, "-bail", "-separator", "|", dst,
				"SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").Output(); err == nil {
				e.dbObjects = map[string]int64{}
				for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
					name, n, _ := strings.Cut(line, "|")
					if v, err := strconv.ParseInt(n, 10, 64); err == nil {
						e.dbObjects[name] = v
					}
				}
			}
			if vi, err := os.Stat(dst); err == nil {
				return file, vi.Size(), "VACUUM INTO a copy (sqlite3)", nil
			}
		}
		e.logf("sqlite3 VACUUM INTO failed (%v: %s); using the database header", err, out)
	}
	live, err := livePages(e.dbPath())
	if err != nil {
		return 0, 0, "", err
	}
	return file, live, "pages in use per the database header (no sqlite3 command)", nil
}

// livePages reads the SQLite header: (page count - free pages) × page size.
func livePages(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := make([]byte, 100)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, err
	}
	if string(h[:16]) != "SQLite format 3\x00" {
		return 0, errors.New(path + " is not an SQLite database")
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	free := int64(binary.BigEndian.Uint32(h[36:40]))
	return (pages - free) * pageSize, nil
}

// measureStartup restarts Usher on the existing data directory several
// times, timing each start from exec to its "ready" log line (logged once
// every listener is bound and serving), and checks /healthz on the public
// listener after each. The last one stays up: after it idles a moment, its
// RSS is the idle RSS.
func (e *env) measureStartup() error {
	res := &StartupResult{SettleS: e.cfg.Settle.Seconds()}
	client := newClient(0, nil)
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	for i := range max(e.cfg.Restarts, 1) {
		if err := e.startUsher(usherDefault); err != nil {
			return err
		}
		res.SamplesMs = append(res.SamplesMs, ms(e.usher.startToRdy))
		code, body, err := fetch(client, http.MethodGet, e.publicURL()+"/healthz", nil, nil)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /healthz on the public listener after start: %d %s %v", code, body, err)
		}
		if i < e.cfg.Restarts-1 {
			if err := e.stopUsher(); err != nil {
				return err
			}
		}
	}
	sorted := slices.Clone(res.SamplesMs)
	slices.Sort(sorted)
	res.MedianMs, res.MaxMs = sorted[len(sorted)/2], sorted[len(sorted)-1]
	e.logf("start-to-ready: median %.0f ms over %d starts", res.MedianMs, len(sorted))
	time.Sleep(e.cfg.Settle)
	rss, err := statusKBs(e.usher.pid(), "VmRSS", "RssAnon", "RssFile")
	if err != nil {
		return err
	}
	res.IdleRSS, res.IdleAnon, res.IdleFile = rss[0], rss[1], rss[2]
	// The hashing process (hash-priority low or idle), on its own: its
	// file-backed pages are the binary's, shared with Usher's.
	for _, c := range processTree(e.usher.pid())[1:] {
		if v, err := statusKBs(c, "VmRSS", "RssAnon", "RssFile"); err == nil {
			res.HashProcRSS, res.HashProcAnon = res.HashProcRSS+v[0], res.HashProcAnon+v[1]
		}
	}
	e.report.Startup = res
	return nil
}

// getRSSConns is the concurrency at which the RSS under GET load is measured.
const getRSSConns = 32

// measureGetRSS runs backend GETs at 32 connections on a freshly started
// Usher (which has hashed nothing yet) and keeps its peak RSS.
func (e *env) measureGetRSS() error {
	var s *scenario
	for _, sc := range scenarios {
		if sc.name == "backend-get" {
			s = sc
		}
	}
	r, err := e.runScenario(s, getRSSConns, 0) // max-rate mode, whatever -rate says
	if err != nil {
		return err
	}
	r.Name = "backend-get (RSS probe)"
	e.report.GetLoadRSS = r
	e.logf("RSS under backend GET at %d connections: %.1f MiB", getRSSConns, mib(r.ServerPeakRSS))
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
