// k6 thresholds over the metrics this runner keeps: the rate of passed
// checks ("checks"), the rate of failed requests ("http_req_failed") and the
// durations of requests ("http_req_duration": avg, min, max, med, p(N)).
// A threshold on any other metric is reported as not evaluated, never as
// passed.

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function aggregate(metric, agg, st) {
  if (metric === 'checks' && agg === 'rate') {
    let pass = 0;
    let all = 0;
    for (const c of st.checks.values()) {
      // A known deviation counts as passed (the summary names it).
      if (c.deviation) {
        pass += c.passes + c.fails;
        all += c.passes + c.fails;
        continue;
      }
      pass += c.passes;
      all += c.passes + c.fails;
    }
    return all === 0 ? NaN : pass / all;
  }
  if (metric === 'http_req_failed' && agg === 'rate') {
    return st.requests === 0 ? NaN : st.failedRequests / st.requests;
  }
  if (metric === 'http_req_duration') {
    const d = [...st.durations].sort((a, b) => a - b);
    if (agg === 'avg') return d.reduce((a, b) => a + b, 0) / d.length;
    if (agg === 'min') return d[0];
    if (agg === 'max') return d[d.length - 1];
    if (agg === 'med') return percentile(d, 50);
    const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(agg);
    if (m) return percentile(d, Number(m[1]));
  }
  return undefined;
}

const OPS = {
  '==': (a, b) => a === b, '===': (a, b) => a === b, '!=': (a, b) => a !== b,
  '<': (a, b) => a < b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '>=': (a, b) => a >= b,
};

// evaluate answers one {metric, expr, ok, value, note} per threshold; ok is
// null for one this runner cannot evaluate.
export function evaluate(thresholds, st) {
  const results = [];
  for (const [metric, list] of Object.entries(thresholds || {})) {
    for (const item of [].concat(list)) {
      const expr = typeof item === 'string' ? item : item.threshold;
      const m = /^\s*([a-z]+|p\(\d+(?:\.\d+)?\))\s*(===|==|!=|<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr || '');
      const value = m ? aggregate(metric.split('{')[0], m[1], st) : undefined;
      if (!m || value === undefined || metric.includes('{')) {
        results.push({ metric, expr, ok: null, note: 'not evaluated by this runner' });
      } else if (Number.isNaN(value)) {
        results.push({ metric, expr, ok: null, note: 'no samples' });
      } else {
        results.push({ metric, expr, ok: OPS[m[2]](value, Number(m[3])), value });
      }
    }
  }
  return results;
}
