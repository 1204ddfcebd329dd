// Stands in for https://jslib.k6.io/httpx/0.1.0/index.js: a session over
// k6/http with a base URL, default headers, tags and timeout, whose get,
// post, put, patch and delete all take (url, body, params).
import http from './http.mjs';

export class Httpx {
  constructor({ baseURL = '', headers = {}, tags = {}, timeout } = {}) {
    this.baseURL = baseURL;
    this.headers = { ...headers };
    this.tags = { ...tags };
    this.timeout = timeout;
  }

  setBaseUrl(url) { this.baseURL = url; }
  addHeader(name, value) { this.headers[name] = value; }
  addHeaders(headers) { Object.assign(this.headers, headers); }
  clearHeader(name) { delete this.headers[name]; }
  addTag(name, value) { this.tags[name] = value; }
  addTags(tags) { Object.assign(this.tags, tags); }
  clearTag(name) { delete this.tags[name]; }

  // request prefixes the base URL and lays the call's headers and tags over
  // the session's (the call's win).
  request(method, url, body = null, params = {}) {
    const merged = {
      ...params,
      headers: { ...this.headers, ...((params && params.headers) || {}) },
      tags: { ...this.tags, ...((params && params.tags) || {}) },
    };
    if (merged.timeout === undefined && this.timeout !== undefined) merged.timeout = this.timeout;
    return http.request(method, this.baseURL + url, body, merged);
  }

  asyncRequest(method, url, body, params) {
    return Promise.resolve().then(() => this.request(method, url, body, params));
  }

  get(url, body, params) { return this.request('GET', url, body, params); }
  post(url, body, params) { return this.request('POST', url, body, params); }
  put(url, body, params) { return this.request('PUT', url, body, params); }
  patch(url, body, params) { return this.request('PATCH', url, body, params); }
  delete(url, body, params) { return this.request('DELETE', url, body, params); }
  head(url, params) { return this.request('HEAD', url, null, params); }
  options(url, body, params) { return this.request('OPTIONS', url, body, params); }
}

export default { Httpx };
