// What one run records: every check with its group, and the duration of
// every HTTP request, for the summary and the thresholds. Every shim imports
// this one module, so they share one record.

export const state = {
  groups: [],        // the current group path, innermost last
  checks: new Map(), // key "group::name" -> {group, name, passes, fails, details[]}
  order: [],         // check keys in the order first seen
  durations: [],     // http_req_duration samples, ms
  requests: 0,
  failedRequests: 0,
  lastError: '',     // why the last request got no response, if it did not
  lastResponse: '',  // the last request and a preview of its answer
  describes: [],     // {name, ok} per describe() call
  maxRedirects: 10,  // options.maxRedirects, k6's default 10
  keepGoing: false,  // describe() answers true even when it failed (not k6)
  deviations: [],    // {describe, check, reason}: known differences (see deviations.json)
  quiet: false,
  out: (line) => process.stdout.write(line + '\n'),
};

export function currentGroup() {
  return state.groups.join(' :: ');
}

// recordCheck counts one check result and prints it at once, so a run that
// hangs or crashes still shows how far it got.
export function recordCheck(name, ok, detail, deviation) {
  const group = currentGroup();
  const key = group + '\u0000' + name;
  let c = state.checks.get(key);
  if (!c) {
    c = { group, name, passes: 0, fails: 0, details: [], deviation: null };
    state.checks.set(key, c);
    state.order.push(key);
  }
  if (ok) {
    c.passes++;
  } else {
    c.fails++;
    if (detail && !c.details.includes(detail)) c.details.push(detail);
    if (deviation) c.deviation = deviation;
  }
  if (!state.quiet) {
    const indent = '  '.repeat(state.groups.length);
    const mark = ok ? '✓' : deviation ? '✗ (known deviation)' : '✗';
    state.out(`${indent}${mark} ${name}${!ok && detail ? `\n${indent}    ↳ ${detail}` : ''}`);
  }
}

export function resetState() {
  state.groups = [];
  state.checks = new Map();
  state.order = [];
  state.durations = [];
  state.requests = 0;
  state.failedRequests = 0;
  state.lastError = '';
  state.lastResponse = '';
  state.describes = [];
}

// knownDeviation answers the reason a failed check is a known deviation, or
// null. A deviation names the describe block and the start of the check's
// name (check names can hold values that change from run to run).
export function knownDeviation(name) {
  const block = state.groups[state.groups.length - 1];
  const d = state.deviations.find((x) => x.describe === block && name.startsWith(x.check));
  return d ? d.reason : null;
}
