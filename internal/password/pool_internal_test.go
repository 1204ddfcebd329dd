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
	for p.Stats().Waiting != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := p.Do(context.Background(), func() { t.Error("ran past a full queue") }); !errors.Is(err, ErrBusy) {
		t.Fatalf("Do with the queue full = %v, want ErrBusy", err)
	}
	s := p.Stats()
	if s.Workers != 1 || s.Running != 1 || s.Waiting != 1 || s.Runs != 0 || s.Refused != 1 {
		t.Errorf("while one runs and one waits: got %+v, want 1 worker, 1 running, 1 waiting, 0 runs, 1 refused", s)
	}
	time.Sleep(5 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-secondRuns
	// A caller that got its worker no longer counts as waiting.
	if s := p.Stats(); s.Running != 1 || s.Waiting != 0 || s.Runs != 1 {
		t.Errorf("while the second runs: got %+v, want 1 running, 0 waiting, 1 run", s)
	}
	close(secondRelease)
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	s = p.Stats()
	if s.Running != 0 || s.Waiting != 0 || s.Runs != 2 || s.Refused != 1 {
		t.Errorf("after both ran: got %+v, want 0 running, 0 waiting, 2 runs, 1 refused", s)
	}
	// The first run lasted at least the 5 ms sleep, and the second caller
	// waited through it.
	if s.Busy < 5*time.Millisecond || s.Waited < 5*time.Millisecond {
		t.Errorf("after both ran: busy %v, waited %v; want each at least 5ms", s.Busy, s.Waited)
	}
}
