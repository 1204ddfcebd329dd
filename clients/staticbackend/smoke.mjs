// Compatibility smoke test: drives Usher's public surface with the official
// StaticBackend JavaScript client (@staticbackend/js, pinned in package.json).
//
//   USHER_URL=http://127.0.0.1:8080 USHER_PUBLIC_KEY=<SB-PUBLIC-KEY> node smoke.mjs
//
// Registers a fresh random email, logs in, reads /me, and checks that a
// wrong password is refused. Exits 0 on success, 1 with a message otherwise.
import { randomUUID } from "node:crypto";
import { Backend } from "@staticbackend/js";

function fail(msg) {
  console.error(`staticbackend-js smoke: FAIL: ${msg}`);
  process.exit(1);
}

function show(v) {
  if (v instanceof Error) return `${v.name}: ${v.message}${v.cause ? ` (cause: ${v.cause})` : ""}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

// The client never times out on its own; do not hang the caller.
setTimeout(() => fail("timed out after 45s"), 45_000).unref();

const baseURL = (process.env.USHER_URL || "").replace(/\/+$/, "");
const publicKey = process.env.USHER_PUBLIC_KEY || "";
if (!baseURL) fail("USHER_URL is not set (e.g. http://127.0.0.1:8080)");
if (!publicKey) fail("USHER_PUBLIC_KEY is not set (the SB-PUBLIC-KEY Usher prints at start)");
// The client takes the base URL as its "region" argument only when that
// argument is at least 10 characters long; shorter values are taken as a
// StaticBackend region name (https://<region>.staticbackend.dev).
if (baseURL.length < 10) fail(`USHER_URL ${JSON.stringify(baseURL)} is too short for the client to treat it as a URL`);
// The client uses the global fetch (Node >= 18).
if (typeof fetch !== "function") fail(`global fetch is missing (node ${process.version}; need Node >= 18)`);

const bkn = new Backend(publicKey, baseURL);
if (bkn.baseURL !== baseURL) fail(`client base URL is ${bkn.baseURL}, want ${baseURL}`);

const email = `sbjs-${randomUUID()}@example.com`;
const password = `correct horse battery staple ${randomUUID()}`;

// A JWT as a JSON string: three base64url parts.
function checkToken(step, res) {
  if (!res || res.ok !== true) fail(`${step}: ok=${res && res.ok}, content=${show(res && res.content)}`);
  const tok = res.content;
  if (typeof tok !== "string" || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(tok)) {
    fail(`${step}: want the JWT as a JSON string, got ${show(tok)}`);
  }
  return tok;
}

// A refusal: the client returns ok=false with the response body as text for
// any status above 299, and ok=false with an Error when the request itself
// failed. Only the former counts as a refusal; the body must be Usher's
// native error JSON.
function checkRefused(step, res) {
  if (!res) fail(`${step}: no result`);
  if (res.ok !== false) fail(`${step}: want a refusal, got ok=${res.ok}, content=${show(res.content)}`);
  if (typeof res.content !== "string") fail(`${step}: request failed instead of being refused: ${show(res.content)}`);
  let body;
  try {
    body = JSON.parse(res.content);
  } catch {
    fail(`${step}: refusal body is not JSON: ${show(res.content)}`);
  }
  const code = body && body.error && body.error.code;
  if (typeof code !== "string" || code === "") fail(`${step}: refusal body lacks error.code: ${show(res.content)}`);
  return code;
}

const reg = await bkn.register(email, password);
const regToken = checkToken("register", reg);

const dup = await bkn.register(email, password);
checkRefused("register again with the same email", dup);

const login = await bkn.login(email, password);
const token = checkToken("login", login);

const me = await bkn.me(token);
if (!me || me.ok !== true) fail(`me: ok=${me && me.ok}, content=${show(me && me.content)}`);
const u = me.content;
if (!u || typeof u !== "object") fail(`me: want an object, got ${show(u)}`);
if (u.email !== email) fail(`me: email is ${show(u.email)}, want ${show(email)}`);
if (typeof u.userId !== "string" || u.userId === "") fail(`me: userId is ${show(u.userId)}, want a non-empty string`);
if (typeof u.accountId !== "string" || u.accountId === "") fail(`me: accountId is ${show(u.accountId)}, want a non-empty string`);
if (u.confirmed !== false) fail(`me: confirmed is ${show(u.confirmed)}, want false for a new user`);
if (u.role !== 0) fail(`me: role is ${show(u.role)}, want 0`);

// The register token is a session of the same user.
const meReg = await bkn.me(regToken);
if (!meReg || meReg.ok !== true || !meReg.content || meReg.content.userId !== u.userId) {
  fail(`me with the register token: ok=${meReg && meReg.ok}, content=${show(meReg && meReg.content)}, want userId ${u.userId}`);
}

const wrong = await bkn.login(email, `${password} but wrong`);
checkRefused("login with a wrong password", wrong);

// login(email, pw, accountId) sends accountId too; Usher ignores it.
const withAccount = await bkn.login(email, password, u.accountId);
checkToken("login with accountId", withAccount);

const badKey = await new Backend(`${publicKey}-not-a-key`, baseURL).login(email, password);
checkRefused("login with an unknown public key", badKey);

const noToken = await bkn.me("");
checkRefused("me without a token", noToken);

console.log(`staticbackend-js smoke: OK (user ${u.userId}, account ${u.accountId})`);
process.exit(0);
