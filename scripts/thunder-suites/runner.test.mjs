// Tests of the k6-compatible runner: the expect and httpx semantics the
// Thunder suites rely on, against a real HTTP server in a child process,
// and the runner's output and exit codes on small scripts.
//   node --test scripts/thunder-suites/
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { state, resetState } from './lib/state.mjs';
import { describe } from './lib/expect.mjs';
import { Httpx } from './lib/httpx.mjs';
import http from './lib/http.mjs';
import { check, group } from './lib/k6.mjs';
import { evaluate } from './lib/thresholds.mjs';
import { thunderEnvironment } from './compose-env.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const runner = path.join(here, 'k6run.mjs');
let server;
let base;

before(async () => {
  server = spawn(process.execPath, [path.join(here, 'testdata', 'fixture-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout, 'data');
  base = `http://127.0.0.1:${/listening (\d+)/.exec(String(line))[1]}`;
});

after(() => server.kill('SIGTERM'));

beforeEach(() => {
  resetState();
  state.quiet = true;
  state.keepGoing = false;
});

function checkList() {
  return state.order.map((k) => state.checks.get(k));
}

test('httpx: base URL credentials become Basic auth; session and call headers merge', () => {
  const s = new Httpx({ baseURL: base.replace('http://', 'http://application:se%3Acret@'), headers: { 'X-Session': 'one' } });
  const r = s.post('/echo', JSON.stringify({ a: 1 }), { headers: { 'Content-Type': 'application/json', 'X-Session': 'two' } });
  assert.equal(r.status, 200);
  const echo = r.json();
  assert.equal(echo.method, 'POST');
  assert.equal(echo.url, '/echo');
  assert.equal(echo.headers.authorization, 'Basic ' + Buffer.from('application:se:cret').toString('base64'));
  assert.equal(echo.headers['x-session'], 'two');
  assert.equal(echo.body, '{"a":1}');
  assert.equal(echo.headers['content-type'], 'application/json');
  // The response never shows the credentials.
  assert.ok(!r.url.includes('cret'), r.url);
});

test('httpx: an explicit Authorization header wins over URL credentials', () => {
  const s = new Httpx({ baseURL: base.replace('http://', 'http://a:b@') });
  const r = s.get('/echo', null, { headers: { Authorization: 'Bearer tok' } });
  assert.equal(r.json('headers.authorization'), 'Bearer tok');
});

test('httpx: get, put and delete take (url, body, params); a null body sends none', () => {
  const s = new Httpx({ baseURL: base });
  assert.equal(s.get('/echo', null, { headers: { password: 'p' } }).json('headers.password'), 'p');
  const put = s.put('/echo?email=a@b.c', 'x', { headers: { password: '' } });
  assert.equal(put.json('method'), 'PUT');
  assert.equal(put.json('url'), '/echo?email=a@b.c');
  assert.equal(put.json('body'), 'x');
  assert.equal(put.json('headers.password'), '');
  const del = s.delete('/echo');
  assert.equal(del.json('method'), 'DELETE');
  assert.equal(del.json('hadBody'), false);
  const post = s.post('/echo');
  assert.equal(post.json('headers.content-length'), '0');
  assert.equal(post.json('hadBody'), false);
});

test('response: status, body, canonical header names, json selectors', () => {
  const r = http.get(`${base}/json`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['Content-Type'], 'application/json');
  assert.equal(r.headers['X-Multi'], 'a, b');
  assert.equal(typeof r.body, 'string');
  assert.equal(r.json('email.address'), 'a@b.c');
  assert.equal(r.json('email.verificationToken'), null);
  assert.equal(r.json('email.missing'), undefined);
  assert.equal(r.json('list.2.c'), 'x');
  assert.equal(r.json('list.#'), 3);
  assert.equal(r.json('list.9'), undefined);
  assert.equal(r.json('dot\\.key'), 7);
  assert.deepEqual(r.json('list'), [1, 2, { c: 'x' }]);
  assert.throws(() => r.json('list.#.c'), /not supported/);
  assert.throws(() => http.get(`${base}/text`).json(), /cannot parse json/);
});

test('response: html().find(selector).text()', () => {
  const doc = http.get(`${base}/html`).html();
  assert.equal(doc.find('div > div').text(), 'Done! It worked & all is well.');
  assert.equal(doc.find('div div strong').text(), 'Done!');
  assert.equal(doc.find('#x').attr('data-k'), 'v');
  assert.equal(doc.find('p#x, strong').size(), 2);
  assert.equal(doc.find('div.box[role=alert] > div').size(), 1);
  assert.equal(doc.find('title').text(), 'done');
  assert.equal(doc.find('span').text(), '');
});

test('redirects are followed as k6 follows them', () => {
  const s = new Httpx({ baseURL: base.replace('http://', 'http://app:pw@') });
  const r = s.get('/redirect?to=/html');
  assert.equal(r.status, 200);
  assert.equal(r.url, `${base}/html`);
  assert.equal(r.html().find('div > div').text(), 'Done! It worked & all is well.');
  // 303 turns a POST into a GET without its body; 307 keeps both; the
  // credentials of the URL go along to the same host.
  const see = s.post('/redirect?code=303&to=/echo', 'data', { headers: { 'Content-Type': 'text/plain' } });
  assert.deepEqual([see.json('method'), see.json('body'), see.json('headers.content-type')], ['GET', '', undefined]);
  assert.equal(see.json('headers.authorization'), 'Basic ' + Buffer.from('app:pw').toString('base64'));
  const temp = s.post('/redirect?code=307&to=/echo', 'data');
  assert.deepEqual([temp.json('method'), temp.json('body')], ['POST', 'data']);
  // Past the limit, the last redirect is the answer.
  assert.equal(s.get('/redirect?to=/html', null, { redirects: 0 }).status, 303);
  assert.equal(http.get(`${base}/loop`).status, 302);
});

test('a refused connection answers status 0 with the error', () => {
  const r = http.get('http://127.0.0.1:1/');
  assert.equal(r.status, 0);
  assert.match(r.error, /ECONNREFUSED/);
  assert.notEqual(r.error_code, 0);
  assert.equal(r.body, null);
});

test('a request past its timeout answers status 0', () => {
  const r = http.get(`${base}/slow?ms=500`, { timeout: '100ms' });
  assert.equal(r.status, 0);
  assert.match(r.error, /timeout/);
});

test('describe answers true when every expectation passes, each is a check', () => {
  const ok = describe('block', (t) => {
    t.expect(201).as('status').toEqual(201)
      .and(5).as('time').toBeGreaterThan(0)
      .and('yes').as('flag').toBeTruthy()
      .and(http.get(`${base}/json`)).toHaveValidJson();
  });
  assert.equal(ok, true);
  const names = checkList().map((c) => [c.group, c.name, c.passes, c.fails]);
  assert.deepEqual(names, [
    ['block', 'status is 201', 1, 0],
    ['block', 'time is greater than 0', 1, 0],
    ['block', 'flag is truthy', 1, 0],
    ['block', `GET ${base}/json has valid json response`, 1, 0],
  ]);
});

test('the first failed expectation records a failed check, ends the block and describe answers false', () => {
  let after = false;
  const ok = describe('block', (t) => {
    t.expect(404).as('status').toEqual(200)
      .and('x').as('never').toEqual('x');
    after = true;
  });
  assert.equal(ok, false);
  assert.equal(after, false);
  const list = checkList();
  assert.equal(list.length, 1);
  assert.equal(list[0].name, 'status is 200');
  assert.equal(list[0].fails, 1);
  assert.match(list[0].details[0], /expected 200, got 404/);
});

test('toEqual is strict, toBeGreaterThan and toBeTruthy fail on their opposites', () => {
  assert.equal(describe('a', (t) => t.expect('1').toEqual(1)), false);
  assert.equal(describe('b', (t) => t.expect(undefined).as('token').toEqual(null)), false);
  assert.equal(describe('c', (t) => t.expect(0).toBeGreaterThan(0)), false);
  assert.equal(describe('d', (t) => t.expect('').toBeTruthy()), false);
  assert.equal(describe('e', (t) => t.expect(http.get(`${base}/text`)).toHaveValidJson()), false);
  assert.equal(describe('f', (t) => t.expect(false).toEqual(false)), true);
  const failed = checkList().filter((c) => c.fails > 0).map((c) => c.name);
  assert.deepEqual(failed, [
    '"1" is 1',
    'token is null',
    '0 is greater than 0',
    '"" is truthy',
    `GET ${base}/text has valid json response`,
  ]);
});

test('an exception inside a block is a failed check naming it; describe answers false', () => {
  const ok = describe('metrics', (t) => {
    const r = http.get(`${base}/json`);
    t.expect(r.json('meters')['x'].count).toEqual(1);
  });
  assert.equal(ok, false);
  const [c] = checkList();
  assert.equal(c.group, 'metrics');
  assert.equal(c.name, 'exception raised in "metrics"');
  assert.match(c.details[0], /Cannot read properties of undefined/);
});

test('a failure message shows the last response with password values left out', () => {
  describe('block', (t) => {
    http.get(`${base}/json`);
    t.expect(1).as('one').toEqual(2);
  });
  const [c] = checkList();
  assert.match(c.details[0], /last response: GET .*\/json answered 200/);
  assert.match(c.details[0], /\\"password\\":\\"\(not shown\)\\"/);
  assert.ok(!c.details[0].includes('a-hash'));
});

test('keep-going: describe answers true after a failure (the check still fails)', () => {
  state.keepGoing = true;
  assert.equal(describe('x', (t) => t.expect(1).toEqual(2)), true);
  assert.equal(checkList()[0].fails, 1);
});

test('k6 check and group record under the group path', () => {
  group('outer', () => group('inner', () => check(3, { 'is three': (v) => v === 3, 'is four': (v) => v === 4 })));
  assert.deepEqual(checkList().map((c) => [c.group, c.name, c.passes, c.fails]), [
    ['outer :: inner', 'is three', 1, 0],
    ['outer :: inner', 'is four', 0, 1],
  ]);
});

test('thresholds: checks rate, request durations, unknown metrics are not passed', () => {
  check(1, { a: () => true, b: () => false });
  state.durations = [10, 20, 30, 40, 200];
  const r = evaluate({
    checks: [{ threshold: 'rate == 1.00', abortOnFail: true }, 'rate>=0.5'],
    http_req_duration: ['p(95)<100', 'max<=200', 'avg<100'],
    iterations: ['count>1'],
  }, state);
  assert.deepEqual(r.map((x) => [x.metric, x.expr, x.ok]), [
    ['checks', 'rate == 1.00', false],
    ['checks', 'rate>=0.5', true],
    ['http_req_duration', 'p(95)<100', false],
    ['http_req_duration', 'max<=200', true],
    ['http_req_duration', 'avg<100', true],
    ['iterations', 'count>1', null],
  ]);
});

function run(script, ...flags) {
  const res = spawnSync(process.execPath, [runner, ...flags, path.join(here, 'testdata', 'fixtures', script)], {
    env: { ...process.env, FIXTURE_URL: base },
    encoding: 'utf8',
  });
  return { code: res.status, out: res.stdout + res.stderr };
}

test('runner: a passing script exits 0, runs options.iterations times, and meets its threshold', () => {
  const { code, out } = run('passing.js');
  assert.equal(code, 0, out);
  assert.match(out, /iterations: 2/);
  assert.match(out, /✓ \[json fields\] status is 200 \(✓ 2 \/ ✗ 0\)/);
  assert.match(out, /✓ \[html text\] text is "Done! It worked & all is well\."/);
  assert.match(out, /checks: 10 distinct, 10 passed, 0 failed/);
  assert.match(out, /threshold ✓ checks: rate == 1.00/);
  assert.ok(!out.includes('s3cret'), 'credentials printed');
});

test('runner: a failing check names itself and why, stops the chain, exits 99 on the threshold', () => {
  const { code, out } = run('failing.js');
  assert.equal(code, 99, out);
  assert.match(out, /✗ \[second block\] body is "a different text"\n\s+↳ expected "a different text", got "conflict"/);
  assert.match(out, /stopped at "second block"/);
  assert.ok(!out.includes('never evaluated'));
  assert.ok(!out.includes('unreached'));
  assert.match(out, /threshold ✗ checks: rate == 1.00 \(value 0.6667\)/);
});

test('runner: --keep-going runs the blocks after a failed one', () => {
  const { code, out } = run('failing.js', '--keep-going');
  assert.equal(code, 99, out);
  assert.match(out, /✓ \[third block\] unreached is true/);
});

test('runner: an exception in a block fails the run without a threshold (exit 1)', () => {
  const { code, out } = run('exception.js');
  assert.equal(code, 1, out);
  assert.match(out, /✗ \[reads a missing meter\] exception raised in "reads a missing meter"/);
});

test('runner: a known deviation is reported, does not end its block, and does not fail the run', () => {
  const devs = path.join(here, 'testdata', 'deviations.json');
  const { code, out } = run('deviation.js', '--deviations', devs, '--suite', 'fx');
  assert.equal(code, 0, out);
  assert.match(out, /✗ \(known deviation: a test deviation\) \[conflict\] body is "another database's text"/);
  assert.match(out, /✓ \[conflict\] after the deviation is 409/);
  assert.match(out, /✓ \[next block\] reached is true/);
  assert.match(out, /checks: 4 distinct, 3 passed, 0 failed, 1 known deviations/);
  assert.match(out, /threshold ✓ checks: rate == 1.00/);
  // Without the file, the same check fails the run as k6 would.
  const strict = run('deviation.js');
  assert.equal(strict.code, 99, strict.out);
  assert.ok(!strict.out.includes('after the deviation'));
});

test('runner: an import it has no module for is refused by name', () => {
  const { code, out } = run('unknown-import.js');
  assert.notEqual(code, 0);
  assert.match(out, /no module for "https:\/\/jslib\.k6\.io\/k6-utils\/1\.4\.0\/index\.js"/);
});

test('compose-env: the thunder service environment and the local secrets', () => {
  const yml = [
    'services:',
    '  secretsmanager:',
    '    image: x # a comment',
    '    environment:',
    '      SECRETSMANAGER_SECRETS: A_SECRET:one,B:two:three',
    '  thunder:',
    '    build: ../..',
    '    environment:',
    '      AWS_ACCESS_KEY_ID: 123',
    '      CONN: "mongodb://u:p@mongo:27017"',
    '    ports:',
    '      - "8080:8080"',
    '  other:',
    '    environment:',
    '      - NOT_THUNDER=1',
  ].join('\n');
  assert.deepEqual(thunderEnvironment(yml), {
    AWS_ACCESS_KEY_ID: '123', CONN: 'mongodb://u:p@mongo:27017', A_SECRET: 'one', B: 'two:three',
  });
});
