#!/usr/bin/env node
// A k6-compatible runner for functional k6 scripts, on Node.js alone.
//
//   node k6run.mjs [--keep-going] [--summary-json FILE] [--quiet]
//                  [--deviations FILE --suite NAME] script.js
//
// It imports the script with k6's modules mapped to this directory's own
// (hooks.mjs), runs setup(), the default function options.iterations times
// (one after another: VUs are not run in parallel) and teardown(), prints
// every check and a summary, and evaluates options.thresholds. Exit code: 0
// when every check passed, 99 when a threshold was crossed (as k6), 1 when a
// check failed or an iteration threw. With --deviations, a failed check the
// file lists for the suite is reported as a known deviation: it does not end
// its block and does not fail the run.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { state } from './lib/state.mjs';
import { evaluate } from './lib/thresholds.mjs';

function usage(msg) {
  if (msg) process.stderr.write(`k6run: ${msg}\n`);
  process.stderr.write('usage: node k6run.mjs [--keep-going] [--summary-json FILE] [--quiet] [--deviations FILE --suite NAME] script.js\n');
  process.exit(2);
}

const args = process.argv.slice(2);
let script = null;
let summaryFile = null;
let deviationsFile = null;
let suite = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--keep-going') state.keepGoing = true;
  else if (a === '--quiet') state.quiet = true;
  else if (a === '--summary-json') summaryFile = args[++i] || usage('--summary-json needs a file');
  else if (a === '--deviations') deviationsFile = args[++i] || usage('--deviations needs a file');
  else if (a === '--suite') suite = args[++i] || usage('--suite needs a name');
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (script) usage('one script at a time');
  else script = a;
}
if (!script) usage('no script given');
if (deviationsFile) {
  if (!suite) usage('--deviations needs --suite');
  state.deviations = JSON.parse(readFileSync(deviationsFile, 'utf8')).filter((d) => d.suites.includes(suite));
}

register('./hooks.mjs', import.meta.url);
// k6's globals: the environment, the VU number (1) and the iteration number.
globalThis.__ENV = { ...process.env };
globalThis.__VU = 1;
globalThis.__ITER = 0;
const mod = await import(pathToFileURL(path.resolve(script)).href);
if (typeof mod.default !== 'function') usage(`${script} has no default export function`);

const options = mod.options || {};
const iterations = Number(options.iterations) || 1;
if (options.maxRedirects !== undefined) state.maxRedirects = Number(options.maxRedirects);
const out = state.out;
out(`script: ${script}`);
out(`iterations: ${iterations}${options.vus > 1 ? ` (options.vus ${options.vus}: run one after another, not in parallel)` : ''}`);
if (state.keepGoing) out('keep-going: every describe() answers true, so blocks after a failed one still run (not k6 behaviour)');

const iterationErrors = [];
let data;
if (typeof mod.setup === 'function') data = mod.setup();
for (let i = 1; i <= iterations; i++) {
  if (iterations > 1) out(`\n── iteration ${i}/${iterations}`);
  globalThis.__ITER = i - 1;
  try {
    mod.default(data);
  } catch (err) {
    const msg = err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : String(err);
    iterationErrors.push(msg);
    out(`✗ iteration ${i} ended with an error: ${msg}`);
  }
}
if (typeof mod.teardown === 'function') mod.teardown(data);

const checks = state.order.map((k) => state.checks.get(k));
const passed = checks.filter((c) => c.fails === 0).length;
const deviations = checks.filter((c) => c.fails > 0 && c.deviation);
const failed = checks.length - passed - deviations.length;
const totalPass = checks.reduce((a, c) => a + c.passes, 0);
const totalFail = checks.reduce((a, c) => a + c.fails, 0);
const stopped = state.keepGoing ? null : state.describes.find((d) => !d.ok);
const thresholds = evaluate(options.thresholds, state);

out('\n── summary');
for (const c of checks) {
  const mark = c.fails === 0 ? '✓' : c.deviation ? `✗ (known deviation: ${c.deviation})` : '✗';
  const counts = c.passes + c.fails > 1 ? ` (✓ ${c.passes} / ✗ ${c.fails})` : '';
  out(`${mark} [${c.group}] ${c.name}${counts}`);
  for (const d of c.details) out(`    ↳ ${d}`);
}
out(`checks: ${checks.length} distinct, ${passed} passed, ${failed} failed, ` +
  `${deviations.length} known deviations; ` +
  `evaluations ✓ ${totalPass} ✗ ${totalFail}`);
out(`describe blocks run: ${state.describes.length}, failed: ${state.describes.filter((d) => !d.ok).length}`);
if (stopped) {
  out(`the describe() && chain stopped at "${stopped.name}": later blocks did not run (--keep-going runs them)`);
}
const sorted = [...state.durations].sort((a, b) => a - b);
if (sorted.length) {
  out(`http requests: ${state.requests}, failed (status 0 or >= 400): ${state.failedRequests}, ` +
    `duration max ${sorted[sorted.length - 1].toFixed(1)} ms`);
}
for (const t of thresholds) {
  const mark = t.ok === null ? '?' : t.ok ? '✓' : '✗';
  const v = t.value === undefined ? '' : ` (value ${Number(t.value.toFixed(4))})`;
  out(`threshold ${mark} ${t.metric}: ${t.expr}${v}${t.note ? ` — ${t.note}` : ''}`);
}
for (const e of iterationErrors) out(`iteration error: ${e}`);

if (summaryFile) {
  writeFileSync(summaryFile, JSON.stringify({
    script, iterations, checks, passed, failed, deviations: deviations.length,
    describes: state.describes, stoppedAt: stopped ? stopped.name : null,
    thresholds, iterationErrors, requests: state.requests,
  }, null, 2));
}

let code = 0;
if (failed > 0 || iterationErrors.length > 0 || checks.length === 0) code = 1;
if (thresholds.some((t) => t.ok === false)) code = 99;
if (checks.length === 0) out('no checks ran: counted as a failure');
process.exitCode = code;
