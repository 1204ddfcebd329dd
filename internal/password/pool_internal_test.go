package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPoolRefusesAtOnceWhenTheWaitWouldBeTooLong: with recent runs taking
// two hours and a limit of one hour, a caller that would have to wait for a
// busy worker is refused without waiting (were it to wait, this test would
// block until its deadline).
func TestPoolRefusesAtOnceWhenTheWaitWouldBeTooLong(t *testing.T) {
	p := NewPool(1, 4, time.Hour)
	p.observe(2 * time.Hour)
	hold, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- p.Do(context.Background(), func() { close(hold); <-release }) }()
	<-hold
	if err := p.Do(context.Background(), func() { t.Error("ran while the worker was busy") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do = %v, want ErrBusy at once", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPoolStats: the counters follow what the pool did. One run holds the
// only worker while a second caller waits and a third is refused (the
// queue holds one); then both runs finish.
func TestPoolStats(t *testing.T) {
	p := NewPool(1, 1, time.Hour)
	hold, release := make(chan struct{}), make(chan struct{})
	first := make(chan error)
	go func() { first <- p.Do(context.Background(), func() { close(hold); <-release }) }()
	<-hold
	second := make(chan error)
	secondRuns, secondRelease := make(chan struct{}), make(chan struct{})
	go func() { second <- p.Do(context.Background(), func() { close(secondRuns); <-secondRelease }) }()
	waitFor(t, "the second caller to queue", func() bool { return p.Stats().Queued == 1 })
	if err := p.Do(context.Background(), func() { t.Error("ran past a full queue") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do with the queue full = %v, want ErrBusy", err)
	}
	s := p.Stats()
	if s.Workers != 1 || s.Running != 1 || s.Queued != 1 || s.Runs != 0 || s.Refused != 1 {
		t.Errorf("while one runs and one waits: got %+v, want 1 worker, 1 running, 1 queued, 0 runs, 1 refused", s)
	}
	time.Sleep(5 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-secondRuns
	// A caller that got its worker no longer counts as waiting.
	if s := p.Stats(); s.Running != 1 || s.Queued != 0 || s.Runs != 1 {
		t.Errorf("while the second runs: got %+v, want 1 running, 0 queued, 1 run", s)
	}
	close(secondRelease)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	s = p.Stats()
	if s.Running != 0 || s.Queued != 0 || s.Runs != 2 || s.Refused != 1 {
		t.Errorf("after both ran: got %+v, want 0 running, 0 queued, 2 runs, 1 refused", s)
	}
	// The first run lasted at least the 5 ms sleep, and the second caller
	// waited through it.
	if s.Busy < 5*time.Millisecond || s.Waited < 5*time.Millisecond {
		t.Errorf("after both ran: busy %v, waited %v; want each at least 5ms", s.Busy, s.Waited)
	}
}

// waitFor polls cond until it holds, failing the test after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolStatsWhenAWaitEnds: a caller that stops waiting without a worker,
// because its wait passed MaxWait or because its context ended, leaves the
// queue; only the first counts as refused, and neither counts as a run.
func TestPoolStatsWhenAWaitEnds(t *testing.T) {
	for _, tt := range []struct {
		name        string
		maxWait     time.Duration
		cancel      bool
		want        error
		wantRefused uint64
	}{
		{name: "wait passes MaxWait", maxWait: 20 * time.Millisecond, want: ErrBusy, wantRefused: 1},
		{name: "context ends", maxWait: time.Hour, cancel: true, want: context.Canceled, wantRefused: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(1, 1, tt.maxWait)
			hold, release := make(chan struct{}), make(chan struct{})
			first := make(chan error)
			go func() { first <- p.Do(context.Background(), func() { close(hold); <-release }) }()
			<-hold
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			second := make(chan error)
			go func() { second <- p.Do(ctx, func() { t.Error("ran while the worker was busy") }) }()
			waitFor(t, "the second caller to queue", func() bool { return p.Stats().Queued == 1 })
			if tt.cancel {
				cancel()
			}
			if err := <-second; !errors.Is(err, tt.want) {
				t.Fatalf("waiting Do = %v, want %v", err, tt.want)
			}
			if s := p.Stats(); s.Queued != 0 || s.Running != 1 || s.Refused != tt.wantRefused || s.Waited != 0 {
				t.Errorf("after the wait ended: got %+v, want 0 queued, 1 running, %d refused, no waited time", s, tt.wantRefused)
			}
			close(release)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if s := p.Stats(); s.Running != 0 || s.Runs != 1 {
				t.Errorf("after the run: got %+v, want 0 running, 1 run", s)
			}
		})
	}
}
