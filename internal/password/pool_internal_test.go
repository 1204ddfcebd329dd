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
