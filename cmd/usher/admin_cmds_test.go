package main

import (
	"strings"
	"testing"
)

func TestAdminAccountCommands(t *testing.T) {
	cleanUsherEnv(t)
	dir, _ := preparedData(t)
	code, out, errOut := runInProcess(t, "admin", "create", "ops@example.com", "--data", dir, "--admin-url", "https://console.example")
	if code != 0 {
		t.Fatalf("admin create: exit %d; stderr:\n%s", code, errOut)
	}
	if !strings.Contains(out, "https://console.example/setup?token=") {
		t.Fatalf("admin create printed no setup link:\n%s", out)
	}
	// A refusal prints its own message, not the database's wording of it.
	if code, _, errOut := runInProcess(t, "admin", "create", "OPS@example.com", "--data", dir); code != 1 ||
		!strings.HasSuffix(errOut, "usher: An admin with this email address already exists.\n") || strings.Contains(errOut, "constraint") {
		t.Fatalf("admin create of a taken address: exit %d, stderr %q; want 1 and the refusal alone", code, errOut)
	}
	code, out, _ = runInProcess(t, "admin", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "awaiting setup") {
		t.Fatalf("admin list: exit %d:\n%s", code, out)
	}
	code, out, _ = runInProcess(t, "admin", "reset", "ops@example.com", "--data", dir)
	if code != 0 || !strings.Contains(out, "/setup?token=") {
		t.Fatalf("admin reset: exit %d:\n%s", code, out)
	}
	if code, _, errOut := runInProcess(t, "admin", "delete", "ops@example.com", "--data", dir); code != 0 {
		t.Fatalf("admin delete: exit %d; stderr:\n%s", code, errOut)
	}
	code, _, errOut = runInProcess(t, "admin", "delete", "ops@example.com", "--data", dir)
	if code != 1 || !strings.Contains(errOut, "Admin not found") {
		t.Fatalf("admin delete again: exit %d, stderr %q; want 1 and not found", code, errOut)
	}
	code, out, _ = runInProcess(t, "admin", "list", "--data", dir)
	if code != 0 || strings.Contains(out, "ops@example.com") {
		t.Fatalf("admin list after delete: exit %d:\n%s", code, out)
	}
}
