package main

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/usherhq/usher/internal/usher"
)

// The outbox end to end: reset emails queued while the SMTP server is down
// (and while Usher restarts) are delivered once it is back, exactly once.

// outboxRow is the relay's state of one queued message.
type outboxRow struct {
	Status       string
	Attempts     int
	Params       string
	LastError    string
	ClaimedUntil int64
}

// outboxRows returns the outbox rows of kind to rcpt.
func outboxRows(t testing.TB, db *sql.DB, rcpt, kind string) []outboxRow {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT status, attempts, params, last_error, claimed_until
		FROM outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at`, rcpt, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
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

// oneOutboxRow returns the only outbox row of kind to rcpt.
func oneOutboxRow(t testing.TB, db *sql.DB, rcpt, kind string) outboxRow {
	t.Helper()
	rows := outboxRows(t, db, rcpt, kind)
	if len(rows) != 1 {
		t.Fatalf("outbox rows of %s to %s: got %d, want 1: %+v", kind, rcpt, len(rows), rows)
	}
	return rows[0]
}

// waitOutboxRow waits until the only outbox row of kind to rcpt meets cond.
func waitOutboxRow(t testing.TB, db *sql.DB, rcpt, kind, what string, cond func(outboxRow) bool) outboxRow {
	t.Helper()
	var last outboxRow
	eventually(t, what, 20*time.Second, func() bool {
		last = oneOutboxRow(t, db, rcpt, kind)
		return cond(last)
	})
	return last
}

// failedOnce: the relay tried, failed, and released the message for a retry.
func failedOnce(r outboxRow) bool {
	return r.Status == "pending" && r.Attempts >= 1 && r.LastError != "" && r.ClaimedUntil == 0
}

func TestOutboxSMTPDownThenUp(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure)
	pub := s.PublicAPI
	const email = "outage@example.com"
	pub.mustRegister(t, email, sessionPassword)
	db := s.Store.DB()

	sink.Stop()
	pub.passwordSend(t, email).wantTrue(t, "password/send")
	row := waitOutboxRow(t, db, email, usher.MailReset, "a failed attempt", failedOnce)
	if got := sink.Count(email, resetSubject); got != 0 {
		t.Fatalf("emails received while the SMTP server was down: %d", got)
	}
	if row.Params == "" {
		t.Fatal("a pending message lost its contents")
	}

	sink.Restart()
	code := sink.waitMessages(t, email, resetSubject, 1)[0].resetCode(t)
	row = waitOutboxRow(t, db, email, usher.MailReset, "the message marked sent", func(r outboxRow) bool { return r.Status == "sent" })
	if got := sink.Count(email, resetSubject); got != 1 {
		t.Errorf("reset emails received: got %d, want exactly 1", got)
	}
	if row.Params != "" {
		t.Errorf("a sent message keeps its sealed contents (%d bytes)", len(row.Params))
	}
	pub.passwordReset(t, email, code, newPassword).wantTrue(t, "reset with the delayed code")
}

func TestOutboxSurvivesRestart(t *testing.T) {
	sink := startSMTPSink(t)
	first := startServer(t, sink.Configure, func(m *Main) {
		// One attempt before the restart, and no retry for an hour: the
		// first Usher cannot be mid-send when it closes.
		m.Config.MailRetryBase, m.Config.MailRetryMax = time.Hour, time.Hour
		// The code must outlive the second Usher's clock, two hours ahead.
		m.Config.ResetTTL = 24 * time.Hour
	})
	pub := first.PublicAPI
	const email = "restart@example.com"
	pub.mustRegister(t, email, sessionPassword)

	sink.Stop()
	pub.passwordSend(t, email).wantTrue(t, "password/send")
	waitOutboxRow(t, first.Store.DB(), email, usher.MailReset, "a failed attempt", failedOnce)
	first.Stop(t)

	// The second Usher, on the same data (and database), starts after the
	// retry time has come: its relay owes the message. Its clock runs two
	// hours ahead of the real one.
	second := startServer(t, func(m *Main) {
		m.Config = first.Config
		m.Config.MailRetryBase, m.Config.MailRetryMax = 100*time.Millisecond, time.Second
		m.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	})
	sink.Restart()

	code := sink.waitMessages(t, email, resetSubject, 1)[0].resetCode(t)
	waitOutboxRow(t, second.Store.DB(), email, usher.MailReset, "the message marked sent", func(r outboxRow) bool { return r.Status == "sent" })
	if got := sink.Count(email, resetSubject); got != 1 {
		t.Errorf("reset emails received: got %d, want exactly 1", got)
	}
	second.PublicAPI.passwordReset(t, email, code, newPassword).wantTrue(t, "reset with the code sent by the second Usher")
}

func TestOutboxAbandons(t *testing.T) {
	sink := startSMTPSink(t)
	s := startServer(t, sink.Configure, func(m *Main) { m.Config.MailMaxAttempts = 3 })
	pub := s.PublicAPI
	const email = "abandoned@example.com"
	pub.mustRegister(t, email, sessionPassword)

	sink.Stop()
	pub.passwordSend(t, email).wantTrue(t, "password/send")
	row := waitOutboxRow(t, s.Store.DB(), email, usher.MailReset, "the message abandoned", func(r outboxRow) bool { return r.Status == "abandoned" })
	if row.Attempts != 3 {
		t.Errorf("attempts before abandoning: got %d, want 3 (MailMaxAttempts)", row.Attempts)
	}
	if row.Params != "" {
		t.Errorf("an abandoned message keeps its sealed contents (%d bytes)", len(row.Params))
	}
	if row.LastError == "" {
		t.Error("an abandoned message records no error")
	}
	if got := sink.Count(email, resetSubject); got != 0 {
		t.Errorf("emails received while the SMTP server was down: %d", got)
	}
}
