// Synchronous HTTP for k6 scripts, which call http.get and use the answer on
// the next line. A worker thread does the request; this thread blocks in
// Atomics.wait on a shared flag until the worker has posted the answer, then
// takes it off the port with receiveMessageOnPort (no event loop needed).
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';

let channel = null;

function open() {
  const signal = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./http-worker.mjs', import.meta.url), {
    workerData: { port: port2, signal },
    transferList: [port2],
  });
  // The worker must never keep the process alive once the script is done.
  worker.unref();
  port1.unref();
  channel = { worker, port: port1, flag: new Int32Array(signal) };
  return channel;
}

// request sends one request and returns {status, statusText, rawHeaders, body,
// duration} or {error, code, duration}. timeout is in milliseconds.
export function request({ method, url, headers, body, timeout }) {
  const c = channel || open();
  Atomics.store(c.flag, 0, 0);
  c.port.postMessage({ method, url, headers, body, timeout });
  // The worker's own timeout ends the request; the extra margin here only
  // guards against a worker that died without answering.
  const waited = Atomics.wait(c.flag, 0, 0, timeout + 5000);
  const msg = receiveMessageOnPort(c.port);
  if (!msg) {
    return { error: `no answer from the HTTP worker (${waited})`, duration: timeout };
  }
  return msg.message;
}
