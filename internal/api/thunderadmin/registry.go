// Package thunderadmin serves Thunder's admin connector: the health
// checks, ping and metrics that Dropwizard serves on Thunder's admin port,
// in Dropwizard's JSON shapes.
package thunderadmin

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Registry keeps meters, counters and timers under fixed names and renders
// them as Dropwizard's /metrics does. Names are registered up front (New),
// so the set is fixed: a name that was not registered is ignored, and no
// value from a request ever becomes a name.
type Registry struct {
	now func() time.Time

	mu       sync.Mutex
	meters   map[string]*meter
	counters map[string]*int64
	timers   map[string]*timer
}

// NewRegistry returns a registry of the given metrics, all at zero. now is
// the clock of rates (nil: time.Now).
func NewRegistry(now func() time.Time, meters, counters, timers []string) *Registry {
	if now == nil {
		now = time.Now
	}
	r := &Registry{now: now, meters: map[string]*meter{}, counters: map[string]*int64{}, timers: map[string]*timer{}}
	t := now()
	for _, n := range meters {
		r.meters[n] = newMeter(t)
	}
	for _, n := range counters {
		r.counters[n] = new(int64)
	}
	for _, n := range timers {
		r.timers[n] = &timer{meter: newMeter(t)}
	}
	return r
}

// Mark adds one event to a meter.
func (r *Registry) Mark(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.meters[name]; m != nil {
		m.mark(r.now())
	}
}

// Count adds one to a counter.
func (r *Registry) Count(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.counters[name]; c != nil {
		*c++
	}
}

// Time records one timed event.
func (r *Registry) Time(name string, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t := r.timers[name]; t != nil {
		t.meter.mark(r.now())
		t.add(took)
	}
}

// The EWMA of Dropwizard's meters: rates over 1, 5 and 15 minutes, decayed
// every 5 seconds.
const tick = 5 * time.Second

var alphas = [3]float64{
	1 - math.Exp(-5.0/60/1),
	1 - math.Exp(-5.0/60/5),
	1 - math.Exp(-5.0/60/15),
}

// meter counts events and their rates: the mean since it was made and
// exponentially weighted moving averages, ticked lazily as Dropwizard's are.
type meter struct {
	count     int64
	start     time.Time
	lastTick  time.Time
	uncounted int64      // events since the last tick
	rates     [3]float64 // per second
	primed    bool
}

func newMeter(t time.Time) *meter { return &meter{start: t, lastTick: t} }

func (m *meter) mark(t time.Time) {
	m.tickTo(t)
	m.count++
	m.uncounted++
}

// tickTo applies every tick that has passed by t: the first takes the
// events since the last tick, the others (no events) only decay, which is
// computed at once.
func (m *meter) tickTo(t time.Time) {
	ticks := int64(t.Sub(m.lastTick) / tick)
	if ticks <= 0 {
		return
	}
	instant := float64(m.uncounted) / tick.Seconds()
	m.uncounted = 0
	for j, a := range alphas {
		if m.primed {
			m.rates[j] += a * (instant - m.rates[j])
		} else {
			m.rates[j] = instant
		}
		m.rates[j] *= math.Pow(1-a, float64(ticks-1))
	}
	m.primed = true
	m.lastTick = m.lastTick.Add(time.Duration(ticks) * tick)
}

func (m *meter) meanRate(t time.Time) float64 {
	if m.count == 0 {
		return 0
	}
	elapsed := t.Sub(m.start).Seconds()
	if elapsed <= 0 {
		return 0
	}
	return float64(m.count) / elapsed
}

// reservoirSize is the number of recent durations a timer keeps for its
// quantiles (Dropwizard's default reservoir holds 1028 samples).
const reservoirSize = 1028

// timer is a meter with the durations of its most recent events.
type timer struct {
	*meter
	samples []float64 // seconds; a ring once full
	next    int
}

func (t *timer) add(d time.Duration) {
	s := d.Seconds()
	if len(t.samples) < reservoirSize {
		t.samples = append(t.samples, s)
		return
	}
	t.samples[t.next] = s
	t.next = (t.next + 1) % reservoirSize
}

// snapshot returns the timer's sorted samples.
func (t *timer) snapshot() []float64 {
	s := slices.Clone(t.samples)
	slices.Sort(s)
	return s
}

// Counters returns every counter's count.
func (r *Registry) Counters() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.counters))
	for n, c := range r.counters {
		out[n] = *c
	}
	return out
}

// Meters returns every meter's count.
func (r *Registry) Meters() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int64, len(r.meters))
	for n, m := range r.meters {
		out[n] = m.count
	}
	return out
}
