// The worker half of the synchronous HTTP client (see synchttp.mjs): it does
// the request with Node's asynchronous http module while the script's thread
// sleeps in Atomics.wait, then hands the answer back and wakes it.
import http from 'node:http';
import https from 'node:https';
import { workerData } from 'node:worker_threads';

const { port, signal } = workerData;
const flag = new Int32Array(signal);
// Connections are kept alive between requests, as k6 keeps them per VU.
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 1 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 1 }),
};

function answer(result) {
  port.postMessage(result);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

port.on('message', (req) => {
  const started = performance.now();
  let done = false;
  const finish = (result) => {
    if (done) return;
    done = true;
    answer({ ...result, duration: performance.now() - started });
  };
  let url;
  try {
    url = new URL(req.url);
  } catch (err) {
    finish({ error: `invalid URL ${JSON.stringify(req.url)}: ${err.message}` });
    return;
  }
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!client) {
    finish({ error: `unsupported scheme ${url.protocol}` });
    return;
  }
  const r = client.request({
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || undefined,
    path: url.pathname + url.search,
    method: req.method,
    headers: req.headers,
    agent: agents[url.protocol],
    timeout: req.timeout,
  }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => finish({
      status: res.statusCode,
      statusText: res.statusMessage,
      rawHeaders: res.rawHeaders,
      body: Buffer.concat(chunks).toString('utf8'),
    }));
    res.on('error', (err) => finish({ error: err.message }));
  });
  r.on('timeout', () => r.destroy(new Error(`request timeout after ${req.timeout} ms`)));
  r.on('error', (err) => finish({ error: err.message, code: err.code }));
  if (req.body != null) r.write(req.body);
  r.end();
});
