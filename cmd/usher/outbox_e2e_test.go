package main

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/store/postgres/pgtest"
	"github.com/usherhq/usher/internal/usher"
)

// The outbox end to end: reset emails queued while the SMTP server is down
// (and while Usher restarts) are delivered once it is back, exactly once.

// pubOutboxRow is the relay's state of one queued message.
type pubOutboxRow struct {
	Status       string
	Attempts     int
	Params       string
	LastError    string
	ClaimedUntil int64
}

// pubOutbox returns the outbox rows of kind to rcpt.
func pubOutbox(t testing.TB, db *sql.DB, rcpt, kind string) []pubOutboxRow {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT status, attempts, params, last_error, claimed_until
		FROM outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at`, rcpt, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []pubOutboxRow
	for rows.Next() {
		var r pubOutboxRow
		if err := rows.Scan(&r.Status, &r.Attempts, &r.Params, &r.LastError, &r.ClaimedUntil); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pubOneRow returns the only outbox row of kind to rcpt.
func pubOneRow(t testing.TB, db *sql.DB, rcpt, kind string) pubOutboxRow {
	t.Helper()
	rows := pubOutbox(t, db, rcpt, kind)
	if len(rows) != 1 {
		t.Fatalf("outbox rows of %s to %s: got %d, want 1: %+v", kind, rcpt, len(rows), rows)
	}
	return rows[0]
}

// pubWaitRow waits until the only outbox row of kind to rcpt meets cond.
func pubWaitRow(t testing.TB, db *sql.DB, rcpt, kind, what string, cond func(pubOutboxRow) bool) pubOutboxRow {
	t.Helper()
	var last pubOutboxRow
	pubEventually(t, what, 20*time.Second, func() bool {
		last = pubOneRow(t, db, rcpt, kind)
		return cond(last)
	})
	return last
}

// pubFailedOnce: the relay tried, failed, and released the message for a retry.
func pubFailedOnce(r pubOutboxRow) bool {
	return r.Status == "pending" && r.Attempts >= 1 && r.LastError != "" && r.ClaimedUntil == 0
}

func TestOutboxSMTPDownThenUp(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	a := pubClient(t, s)
	const email = "outage@example.com"
	a.register(email, pubPassword)
	db := s.Store.DB()

	sink.Stop()
	pubWantTrue(t, "password/send", a.sendReset(email))
	row := pubWaitRow(t, db, email, usher.MailReset, "a failed attempt", pubFailedOnce)
	if got := sink.Count(email, pubResetSubject); got != 0 {
		t.Fatalf("emails received while the SMTP server was down: %d", got)
	}
	if row.Params == "" {
		t.Fatal("a pending message lost its contents")
	}

	sink.Restart()
	code := pubCode(t, sink.WaitFor(email, pubResetSubject, pubMailWait))
	row = pubWaitRow(t, db, email, usher.MailReset, "the message marked sent", func(r pubOutboxRow) bool { return r.Status == "sent" })
	if got := sink.Count(email, pubResetSubject); got != 1 {
		t.Errorf("reset emails received: got %d, want exactly 1", got)
	}
	if row.Params != "" {
		t.Errorf("a sent message keeps its sealed contents (%d bytes)", len(row.Params))
	}
	pubWantTrue(t, "reset with the delayed code", a.reset(email, code, pubNewPassword))
}

// pubStartMain starts m (not through startServer, so that the test may
// close it midway) and closes it when the test ends if it is still running.
func pubStartMain(t testing.TB, m *Main) (closeMain func()) {
	t.Helper()
	if err := m.Start(context.Background()); err != nil {
		_ = m.Close()
		t.Fatalf("start: %v", err)
	}
	var once sync.Once
	closeMain = func() {
		once.Do(func() {
			if err := m.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(closeMain)
	return closeMain
}

func TestOutboxSurvivesRestart(t *testing.T) {
	sink := startSMTPSink(t)
	first := &Main{Config: testConfig(t), HashParams: &cheapHash}
	if os.Getenv("USHER_TEST_ENGINE") == "postgres" {
		first.Config.DB = pgtest.DSN(t)
	}
	sink.Configure(first)
	// One attempt before the restart, and no retry for an hour: the first
	// Usher cannot be mid-send when it closes.
	first.Config.MailRetryBase, first.Config.MailRetryMax = time.Hour, time.Hour
	// The code must outlive the second Usher's clock, two hours ahead.
	first.Config.ResetTTL = 24 * time.Hour
	closeFirst := pubStartMain(t, first)
	s1 := &testServer{Main: first, Public: "http://" + first.PublicAddr()}
	a := pubClient(t, s1)
	const email = "restart@example.com"
	a.register(email, pubPassword)

	sink.Stop()
	pubWantTrue(t, "password/send", a.sendReset(email))
	pubWaitRow(t, first.Store.DB(), email, usher.MailReset, "a failed attempt", pubFailedOnce)
	closeFirst()

	// The second Usher, on the same data (and database), starts after the
	// retry time has come: its relay owes the message.
	second := &Main{Config: first.Config, HashParams: &cheapHash}
	second.Config.MailRetryBase, second.Config.MailRetryMax = 100*time.Millisecond, time.Second
	second.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	pubStartMain(t, second)
	sink.Restart()

	code := pubCode(t, sink.WaitFor(email, pubResetSubject, pubMailWait))
	pubWaitRow(t, second.Store.DB(), email, usher.MailReset, "the message marked sent", func(r pubOutboxRow) bool { return r.Status == "sent" })
	if got := sink.Count(email, pubResetSubject); got != 1 {
		t.Errorf("reset emails received: got %d, want exactly 1", got)
	}
	s2 := &testServer{Main: second, Public: "http://" + second.PublicAddr()}
	pubWantTrue(t, "reset with the code sent by the second Usher", pubClient(t, s2).reset(email, code, pubNewPassword))
}

func TestOutboxAbandons(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, func(m *Main) { m.Config.MailMaxAttempts = 3 })
	a := pubClient(t, s)
	const email = "abandoned@example.com"
	a.register(email, pubPassword)

	sink.Stop()
	pubWantTrue(t, "password/send", a.sendReset(email))
	row := pubWaitRow(t, s.Store.DB(), email, usher.MailReset, "the message abandoned", func(r pubOutboxRow) bool { return r.Status == "abandoned" })
	if row.Attempts != 3 {
		t.Errorf("attempts before abandoning: got %d, want 3 (MailMaxAttempts)", row.Attempts)
	}
	if row.Params != "" {
		t.Errorf("an abandoned message keeps its sealed contents (%d bytes)", len(row.Params))
	}
	if row.LastError == "" {
		t.Error("an abandoned message records no error")
	}
	if got := sink.Count(email, pubResetSubject); got != 0 {
		t.Errorf("emails received while the SMTP server was down: %d", got)
	}
}
