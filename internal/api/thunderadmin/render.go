package thunderadmin

import (
	"math"
	"time"
)

// The JSON of Dropwizard's metrics servlet (metrics-json 4.x).
type (
	metricsDoc struct {
		Version    string                 `json:"version"`
		Gauges     map[string]any         `json:"gauges"`
		Counters   map[string]counterJSON `json:"counters"`
		Histograms map[string]any         `json:"histograms"`
		Meters     map[string]meterJSON   `json:"meters"`
		Timers     map[string]timerJSON   `json:"timers"`
	}
	counterJSON struct {
		Count int64 `json:"count"`
	}
	meterJSON struct {
		Count    int64   `json:"count"`
		M15Rate  float64 `json:"m15_rate"`
		M1Rate   float64 `json:"m1_rate"`
		M5Rate   float64 `json:"m5_rate"`
		MeanRate float64 `json:"mean_rate"`
		Units    string  `json:"units"`
	}
	timerJSON struct {
		Count         int64   `json:"count"`
		Max           float64 `json:"max"`
		Mean          float64 `json:"mean"`
		Min           float64 `json:"min"`
		P50           float64 `json:"p50"`
		P75           float64 `json:"p75"`
		P95           float64 `json:"p95"`
		P98           float64 `json:"p98"`
		P99           float64 `json:"p99"`
		P999          float64 `json:"p999"`
		Stddev        float64 `json:"stddev"`
		M15Rate       float64 `json:"m15_rate"`
		M1Rate        float64 `json:"m1_rate"`
		M5Rate        float64 `json:"m5_rate"`
		MeanRate      float64 `json:"mean_rate"`
		DurationUnits string  `json:"duration_units"`
		RateUnits     string  `json:"rate_units"`
	}
)

// snapshot renders every metric as Dropwizard would now.
func (r *Registry) snapshot() metricsDoc {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now()
	doc := metricsDoc{
		Version: "4.0.0", Gauges: map[string]any{}, Histograms: map[string]any{},
		Counters: map[string]counterJSON{}, Meters: map[string]meterJSON{}, Timers: map[string]timerJSON{},
	}
	for n, c := range r.counters {
		doc.Counters[n] = counterJSON{Count: *c}
	}
	for n, m := range r.meters {
		m.tickTo(t)
		doc.Meters[n] = meterJSON{Count: m.count, M1Rate: m.rates[0], M5Rate: m.rates[1], M15Rate: m.rates[2],
			MeanRate: m.meanRate(t), Units: "events/second"}
	}
	for n, tm := range r.timers {
		tm.tickTo(t)
		s := tm.snapshot()
		doc.Timers[n] = timerJSON{
			Count: tm.count, M1Rate: tm.rates[0], M5Rate: tm.rates[1], M15Rate: tm.rates[2], MeanRate: tm.meanRate(t),
			Max: quantile(s, 1), Min: quantile(s, 0), Mean: mean(s), Stddev: stddev(s),
			P50: quantile(s, 0.5), P75: quantile(s, 0.75), P95: quantile(s, 0.95), P98: quantile(s, 0.98),
			P99: quantile(s, 0.99), P999: quantile(s, 0.999),
			DurationUnits: "seconds", RateUnits: "calls/second",
		}
	}
	return doc
}

// quantile is the q-quantile of sorted samples, interpolated between the
// two nearest (0 when there are none), as Dropwizard's snapshots compute it.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	pos := q * float64(n+1)
	switch {
	case pos < 1:
		return sorted[0]
	case pos >= float64(n):
		return sorted[n-1]
	}
	lo := sorted[int(pos)-1]
	hi := sorted[int(pos)]
	return lo + (pos-math.Floor(pos))*(hi-lo)
}

func mean(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return sum / float64(len(s))
}

func stddev(s []float64) float64 {
	if len(s) <= 1 {
		return 0
	}
	m := mean(s)
	sum := 0.0
	for _, v := range s {
		sum += (v - m) * (v - m)
	}
	return math.Sqrt(sum / float64(len(s)-1))
}

// timestamp is a health check result's time as Dropwizard writes it.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
