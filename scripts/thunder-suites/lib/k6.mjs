// The 'k6' module: check, group, fail, sleep, as k6 documents them.
import { state, recordCheck } from './state.mjs';

// check runs each named condition on value, records it, and answers whether
// all passed. A condition that throws is an error of the script, as in k6.
export function check(value, conditions, _tags) {
  let all = true;
  for (const [name, cond] of Object.entries(conditions || {})) {
    const ok = Boolean(typeof cond === 'function' ? cond(value) : cond);
    recordCheck(name, ok);
    if (!ok) all = false;
  }
  return all;
}

export function group(name, fn) {
  if (!state.quiet) state.out(`${'  '.repeat(state.groups.length)}█ ${name}`);
  state.groups.push(name);
  try {
    return fn();
  } finally {
    state.groups.pop();
  }
}

export class K6Fail extends Error {
  constructor(msg) {
    super(msg);
    this.name = 'K6Fail';
  }
}

// fail ends the current iteration with an error, as k6 does.
export function fail(msg) {
  throw new K6Fail(msg === undefined ? 'fail() called' : String(msg));
}

// sleep blocks the script's thread, as k6's sleep blocks its VU.
export function sleep(seconds) {
  const ms = Math.max(0, Number(seconds) * 1000);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export default { check, group, fail, sleep };
