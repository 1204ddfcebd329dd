// The 'k6/http' module: synchronous requests answering k6's Response object.
import { request as syncRequest } from './synchttp.mjs';
import { select } from './jsonpath.mjs';
import { parseDocument } from './html.mjs';
import { state } from './state.mjs';

const DEFAULT_TIMEOUT_MS = 60000; // k6's default request timeout
const USER_AGENT = 'usher-thunder-suites (k6-compatible runner)';
// k6 answers status 0 and an error code when no response came back; this
// runner does not reproduce k6's table of codes and uses its generic one.
const GENERIC_ERROR_CODE = 1000;

// canonicalHeader writes a header name as Go's net/http does (and so k6):
// "content-type" -> "Content-Type".
export function canonicalHeader(name) {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
}

function parseTimeout(t) {
  if (t === undefined || t === null) return DEFAULT_TIMEOUT_MS;
  if (typeof t === 'number') return t;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(t).trim());
  if (!m) throw new Error(`invalid timeout ${JSON.stringify(t)}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
}

function hasHeader(headers, name) {
  return Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase());
}

// encodeBody follows k6: a string goes as it is, an object is sent as an
// URL-encoded form, null or undefined sends nothing.
function encodeBody(body, headers) {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'object') {
    if (!hasHeader(headers, 'Content-Type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString();
  }
  return String(body);
}

export class Response {
  constructor(init) {
    Object.assign(this, init);
  }

  // json parses the body (once) and answers the whole value or the part a
  // selector names; an unparseable body throws, as in k6.
  json(selector) {
    if (!('_parsed' in this)) {
      try {
        Object.defineProperty(this, '_parsed', { value: JSON.parse(this.body), enumerable: false });
      } catch (err) {
        throw new Error(`cannot parse json due to an error: ${err.message} (body: ${preview(this.body)})`);
      }
    }
    return selector === undefined ? this._parsed : select(this._parsed, selector);
  }

  html(selector) {
    const doc = parseDocument(this.body || '');
    return selector === undefined ? doc : doc.find(selector);
  }
}

// preview shortens a body for a failure message, with the value of any
// "password" field (a hash or a client-side hash) left out.
export function preview(body) {
  if (body === null || body === undefined) return String(body);
  const s = String(body).replace(/("password"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"(not shown)"');
  return JSON.stringify(s.length > 200 ? s.slice(0, 200) + '…' : s);
}

// urlForDisplay drops credentials from a URL so that output never shows them.
export function urlForDisplay(url) {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return String(url);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// request follows redirects as k6 does (Go's client): up to params.redirects
// or options.maxRedirects (10); 301, 302 and 303 turn into a GET without a
// body; Authorization and Cookie go only to the same host.
export function request(method, url, body, params = {}) {
  let target;
  try {
    target = new URL(String(url));
  } catch {
    throw new Error(`invalid URL ${JSON.stringify(urlForDisplay(url))}`);
  }
  const maxRedirects = params && params.redirects !== undefined ? Number(params.redirects) : state.maxRedirects;
  let headers = {};
  for (const [k, v] of Object.entries((params && params.headers) || {})) {
    if (v !== undefined && v !== null) headers[k] = String(v);
  }
  method = String(method).toUpperCase();
  const timeout = parseTimeout(params && params.timeout);
  for (let hops = 0; ; hops++) {
    const { response, location } = once(method, target, headers, body, timeout);
    if (!location || !REDIRECTS.has(response.status) || hops >= maxRedirects) return response;
    const next = new URL(location, target);
    if (next.host !== target.host) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !['authorization', 'cookie'].includes(k.toLowerCase())));
    }
    if (response.status !== 307 && response.status !== 308) {
      if (method !== 'HEAD') method = 'GET';
      body = null;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !['content-type', 'content-length'].includes(k.toLowerCase())));
    }
    target = next;
  }
}

function once(method, target, callerHeaders, body, timeout) {
  const headers = { ...callerHeaders };
  // Credentials in the URL become Basic authentication unless the script set
  // its own Authorization header, as Go's client (and so k6) does.
  if ((target.username || target.password) && !hasHeader(headers, 'Authorization')) {
    const cred = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.Authorization = 'Basic ' + Buffer.from(cred).toString('base64');
  }
  if (!hasHeader(headers, 'User-Agent')) headers['User-Agent'] = USER_AGENT;
  const payload = encodeBody(body, headers);
  if (payload === null && ['POST', 'PUT', 'PATCH'].includes(method)) headers['Content-Length'] = '0';
  const r = syncRequest({ method, url: target.toString(), headers, body: payload, timeout });

  state.requests++;
  state.lastError = r.error !== undefined ? `${method} ${urlForDisplay(target.toString())}: ${r.error}` : '';
  const respHeaders = {};
  if (r.rawHeaders) {
    for (let i = 0; i < r.rawHeaders.length; i += 2) {
      const k = canonicalHeader(r.rawHeaders[i]);
      respHeaders[k] = k in respHeaders ? `${respHeaders[k]}, ${r.rawHeaders[i + 1]}` : r.rawHeaders[i + 1];
    }
  }
  const failed = r.error !== undefined || r.status >= 400;
  if (failed) state.failedRequests++;
  if (r.error === undefined) state.durations.push(r.duration);
  const response = new Response({
    status: r.error !== undefined ? 0 : r.status,
    status_text: r.error !== undefined ? '' : `${r.status} ${r.statusText || ''}`.trim(),
    body: r.error !== undefined ? null : r.body,
    headers: respHeaders,
    url: urlForDisplay(target.toString()),
    error: r.error !== undefined ? r.error : '',
    error_code: r.error !== undefined ? GENERIC_ERROR_CODE : 0,
    timings: { duration: r.duration },
    request: { method, url: urlForDisplay(target.toString()), body: payload === null ? '' : String(payload) },
  });
  state.lastResponse = r.error !== undefined ? '' :
    `${method} ${response.url} answered ${response.status} ${preview(response.body)}`;
  return { response, location: respHeaders.Location };
}

export const get = (url, params) => request('GET', url, null, params);
export const head = (url, params) => request('HEAD', url, null, params);
export const post = (url, body, params) => request('POST', url, body, params);
export const put = (url, body, params) => request('PUT', url, body, params);
export const patch = (url, body, params) => request('PATCH', url, body, params);
export const del = (url, body, params) => request('DELETE', url, body, params);
export const options = (url, body, params) => request('OPTIONS', url, body, params);

export default { request, get, head, post, put, patch, del, options };
