// Prints run.sh's table: one row per suite with its checks passed, failed
// and failed as known deviations, the failing checks named. Exit code 1 when any suite failed.
//   node summarize.mjs WORK_DIR suite...
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [work, ...suites] = process.argv.slice(2);
const rows = [];
let bad = false;
for (const suite of suites) {
  let s;
  try {
    s = JSON.parse(readFileSync(path.join(work, suite, 'summary.json'), 'utf8'));
  } catch {
    s = { runnerFailed: true };
  }
  if (s.skipped) {
    rows.push({ suite, result: 'skipped', passed: '-', failed: '-', deviations: '-', notes: [s.skipped] });
  } else if (s.error) {
    bad = true;
    rows.push({ suite, result: 'error', passed: '-', failed: '-', deviations: '-', notes: [s.error] });
  } else if (s.usherFailed !== undefined) {
    bad = true;
    rows.push({ suite, result: 'usher did not start', passed: '-', failed: '-', deviations: '-', notes: [s.usherFailed] });
  } else if (s.runnerFailed) {
    bad = true;
    rows.push({ suite, result: 'runner failed', passed: '-', failed: '-', deviations: '-', notes: ['no summary written: see the output above'] });
  } else {
    const failing = s.checks.filter((c) => c.fails > 0 && !c.deviation).map((c) => `[${c.group}] ${c.name}`);
    const known = s.checks.filter((c) => c.fails > 0 && c.deviation).map((c) => `known deviation: [${c.group}] ${c.name}`);
    const notes = [...failing, ...known];
    if (s.stoppedAt) notes.push(`(stopped after "${s.stoppedAt}"; later blocks did not run)`);
    for (const e of s.iterationErrors) notes.push(`iteration error: ${e}`);
    for (const t of s.thresholds) if (t.ok === false) notes.push(`threshold crossed: ${t.metric} ${t.expr}`);
    const ok = failing.length === 0 && s.iterationErrors.length === 0 && !s.thresholds.some((t) => t.ok === false);
    if (!ok) bad = true;
    rows.push({ suite, result: ok ? 'PASS' : 'FAIL', passed: String(s.passed), failed: String(s.failed), deviations: String(s.deviations), notes });
  }
}

const w = (k, title) => Math.max(title.length, ...rows.map((r) => r[k].length));
const ws = [w('suite', 'suite'), w('result', 'result'), w('passed', 'passed'), w('failed', 'failed'), w('deviations', 'deviations')];
const line = (a) => a.map((v, i) => v.padEnd(ws[i])).join('  ');
console.log(line(['suite', 'result', 'passed', 'failed', 'deviations']) + '  failing checks');
for (const r of rows) {
  const [first = '', ...rest] = r.notes;
  console.log(line([r.suite, r.result, r.passed, r.failed, r.deviations]) + '  ' + first);
  for (const n of rest) console.log(' '.repeat(ws.reduce((a, b) => a + b + 2, 0)) + n);
}
process.exitCode = bad ? 1 : 0;
