package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// The hot paths of the backend surface, through the real server over mutual
// TLS with keep-alive connections. Hashing uses the production parameters
// (password.Default), so Create and CheckPassword show what a deployment
// pays. Allocations are those of the whole process: client and server.
//
//	go test -run '^$' -bench . -benchtime 2s ./cmd/usher

const benchPassword = "correct horse battery staple"

// benchServer starts Usher with production hashing and no request log.
func benchServer(b *testing.B) *testServer {
	b.Helper()
	return startServer(b, func(m *Main) {
		m.HashParams = nil
		m.Config.LogRequests = false
	})
}

// benchDo sends one request and returns its body, or an error unless the
// status is want. The body is read to the end so the connection is reused.
// It does not stop the benchmark itself, so it is safe in RunParallel.
func benchDo(s *testServer, method, path, body string, want int) ([]byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.Backend+path, r)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := send(s.Client, req)
	if err != nil {
		return nil, err
	}
	if res.Status != want {
		return res.Body, fmt.Errorf("%s %s: got status %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	return res.Body, nil
}

// benchCreateUsers creates n users and returns their IDs.
func benchCreateUsers(b *testing.B, s *testServer, n int) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range ids {
		body := fmt.Sprintf(`{"email":"seed-%d@example.com","password":%q,"data":{"plan":"pro","seats":3}}`, i, benchPassword)
		res, err := benchDo(s, http.MethodPost, "/users", body, http.StatusCreated)
		if err != nil {
			b.Fatal(err)
		}
		var u struct{ ID string }
		if err := json.Unmarshal(res, &u); err != nil || u.ID == "" {
			b.Fatalf("create: got body %s, want a user with an id (%v)", res, err)
		}
		ids[i] = u.ID
	}
	return ids
}

// BenchmarkCreate creates one user per iteration, each with its own email:
// one argon2id hash and one insert.
func BenchmarkCreate(b *testing.B) {
	s := benchServer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := fmt.Sprintf(`{"email":"bench-%d@example.com","password":%q}`, i, benchPassword)
		if _, err := benchDo(s, http.MethodPost, "/users", body, http.StatusCreated); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads one user from every parallel client.
func BenchmarkGet(b *testing.B) {
	s := benchServer(b)
	path := "/users/" + benchCreateUsers(b, s, 1)[0]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := benchDo(s, http.MethodGet, path, "", http.StatusOK); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCheckPassword checks the right password: one argon2id verify and
// one write (the lockout counter is cleared even when already clear).
func BenchmarkCheckPassword(b *testing.B) {
	s := benchServer(b)
	path := "/users/" + benchCreateUsers(b, s, 1)[0] + "/checkpw"
	body := fmt.Sprintf(`{"password":%q}`, benchPassword)
	b.ReportAllocs()
	for b.Loop() {
		res, err := benchDo(s, http.MethodPost, path, body, http.StatusOK)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(res, []byte(`"result":true`)) {
			b.Fatalf("checkpw: got %s, want result true", res)
		}
	}
}

// BenchmarkSetData replaces custom data from parallel clients, each on its
// own user, so the figure is the store's write path rather than contention
// on one row.
func BenchmarkSetData(b *testing.B) {
	s := benchServer(b)
	ids := benchCreateUsers(b, s, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		k := next.Add(1)
		path := "/users/" + ids[int(k)%len(ids)] + "/data"
		for i := 0; pb.Next(); i++ {
			body := fmt.Sprintf(`{"plan":"pro","seats":%d,"tags":["a","b"],"client":%d}`, i, k)
			if _, err := benchDo(s, http.MethodPut, path, body, http.StatusNoContent); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
