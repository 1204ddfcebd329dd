// Stands in for https://jslib.k6.io/expect/0.0.5/index.js, after its
// documented behaviour: describe() runs a block as a k6 group and answers
// whether it passed; every expectation is a k6 check; the first failed
// expectation records a failed check and ends its block (the rest of the
// chain is not evaluated); an exception inside a block is recorded as a
// failed check instead of ending the iteration.
import { group } from './k6.mjs';
import { state, recordCheck, knownDeviation } from './state.mjs';
import { Response, preview } from './http.mjs';

class ExpectationFailed extends Error {
  constructor(msg) {
    super(msg);
    this.name = 'ExpectationFailed';
  }
}

export function show(v) {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof Response) return `response ${v.status}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

class Expectation {
  constructor(value) {
    this.value = value;
    this.label = show(value);
  }

  as(name) {
    this.label = name;
    return this;
  }

  // and starts the next expectation of the chain on another value.
  and(value) {
    return new Expectation(value);
  }

  // assert records one check. A failure ends the block, unless the check is
  // a known deviation (--deviations): then the chain goes on, so that the
  // checks after it still run.
  assert(name, ok, detail) {
    if (ok) {
      recordCheck(name, true);
      return this;
    }
    if (state.lastError) detail += ` (the last request failed: ${state.lastError})`;
    else if (state.lastResponse) detail += ` (last response: ${state.lastResponse})`;
    const deviation = knownDeviation(name);
    recordCheck(name, false, detail, deviation);
    if (!deviation) throw new ExpectationFailed(`${name}: ${detail}`);
    return this;
  }

  // toEqual compares with ===, as the library does (no deep equality).
  toEqual(expected) {
    return this.assert(`${this.label} is ${show(expected)}`, this.value === expected,
      `expected ${show(expected)}, got ${show(this.value)}`);
  }

  toBeGreaterThan(n) {
    return this.assert(`${this.label} is greater than ${show(n)}`, this.value > n,
      `expected more than ${show(n)}, got ${show(this.value)}`);
  }

  toBeTruthy() {
    return this.assert(`${this.label} is truthy`, Boolean(this.value),
      `got ${show(this.value)}`);
  }

  // toHaveValidJson takes a response and checks that its body parses.
  toHaveValidJson() {
    const r = this.value;
    if (!(r instanceof Response)) {
      return this.assert(`${this.label} has valid json response`, false, 'toHaveValidJson needs an HTTP response');
    }
    const name = `${r.request.method} ${r.url} has valid json response`;
    try {
      r.json();
    } catch {
      return this.assert(name, false, `status ${r.status}, body ${preview(r.body)} is not JSON`);
    }
    return this.assert(name, true);
  }
}

export function describe(name, fn) {
  const t = { expect: (value) => new Expectation(value) };
  let ok = true;
  try {
    group(name, () => fn(t));
  } catch (err) {
    ok = false;
    if (!(err instanceof ExpectationFailed)) {
      // The block threw (a missing field, a refused connection...): recorded
      // as a failed check so the run fails and says why.
      state.groups.push(name);
      recordCheck(`exception raised in "${name}"`, false, String(err && err.message ? err.message : err));
      state.groups.pop();
    }
  }
  state.describes.push({ name, ok });
  return ok || state.keepGoing;
}

export default { describe };
