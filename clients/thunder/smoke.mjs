// Compatibility smoke test: drives Usher's Thunder surface with the official
// Thunder JavaScript client (thunder-client, pinned in package.json).
//
//   USHER_THUNDER_URL=http://127.0.0.1:8082 USHER_THUNDER_APP=app \
//   USHER_THUNDER_SECRET=secret node smoke.mjs
//
// Verification tokens come from the emails Usher sends, not from the API:
// when the script needs one it prints a line
//
//   NEED_TOKEN <email>
//
// on stdout and reads one line from stdin holding the token of the newest
// verification email to that address (cmd/usher/thunderclient_test.go
// answers from its SMTP sink; by hand, paste the token from the link).
//
// Walks createUser, getUser, updateUser (properties, then email), sendEmail,
// verifyUser (json and html), resetVerificationStatus and deleteUser, with
// the refusals a Thunder client relies on. Exits 0 on success, 1 with a
// message otherwise.
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import ThunderClient from "thunder-client";

function fail(msg) {
  console.error(`thunder-js smoke: FAIL: ${msg}`);
  process.exit(1);
}

function show(v) {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function step(msg) {
  console.log(`thunder-js smoke: ok: ${msg}`);
}

// The client (through the request package) never times out on its own; do
// not hang the caller.
setTimeout(() => fail("timed out after 75s"), 75_000).unref();

const baseURL = (process.env.USHER_THUNDER_URL || "").replace(/\/+$/, "");
const app = process.env.USHER_THUNDER_APP || "";
const secret = process.env.USHER_THUNDER_SECRET || "";
if (!baseURL) fail("USHER_THUNDER_URL is not set (e.g. http://127.0.0.1:8082)");
if (!app || !secret) fail("USHER_THUNDER_APP and USHER_THUNDER_SECRET must be set (one thunder-app NAME:SECRET of Usher's config)");

const thunder = new ThunderClient(baseURL, app, secret);

// call runs one client method, whose last argument (or, for verifyUser,
// the third) is a callback (err, statusCode, result), as a promise.
function call(fn) {
  return new Promise((resolve) => fn((err, status, result) => resolve({ err, status, result })));
}

// ok checks a call that must succeed with status and returns its result.
function ok(what, res, status) {
  if (res.err || res.status !== status) {
    fail(`${what}: want ${status}, got status=${res.status} err=${show(res.err)} body=${show(res.result)}`);
  }
  return res.result;
}

// refused checks a call that Usher must refuse with status and Thunder's
// plain-text error "<message> (User: <email or null>)".
function refused(what, res, status, message) {
  if (!res.err) fail(`${what}: want a refusal with ${status}, got status=${res.status} body=${show(res.result)}`);
  if (res.status !== status) fail(`${what}: want status ${status}, got ${res.status} (${show(res.err)}, body=${show(res.result)})`);
  if (message !== undefined && (typeof res.result !== "string" || !res.result.startsWith(`${message} (User: `))) {
    fail(`${what}: want body "${message} (User: ...)", got ${show(res.result)}`);
  }
}

// user checks the shape of a Thunder user and its custom properties.
function user(what, u, { address, verified, props, noHash = false }) {
  if (!u || typeof u !== "object") fail(`${what}: want a user object, got ${show(u)}`);
  const e = u.email;
  if (!e || typeof e !== "object") fail(`${what}: no email object in ${show(u)}`);
  if (e.address !== address) fail(`${what}: email.address is ${show(e.address)}, want ${show(address)}`);
  if (e.verified !== verified) fail(`${what}: email.verified is ${show(e.verified)}, want ${verified}`);
  if (!("verificationToken" in e)) fail(`${what}: email.verificationToken is missing in ${show(u)}`);
  if (noHash) {
    // The unauthenticated verification link leaves the hash out (a
    // deviation from Thunder, in Usher's README).
    if (u.password !== null) fail(`${what}: password is ${show(u.password)}, want null`);
  } else if (typeof u.password !== "string" || u.password === "") fail(`${what}: password is ${show(u.password)}, want the stored hash`);
  if (u.password === password) fail(`${what}: the plain-text password came back`);
  for (const f of ["creationTime", "lastUpdateTime"]) {
    // Epoch milliseconds: after 2001-09-09 in ms, before 2286 in ms.
    if (!Number.isInteger(u[f]) || u[f] < 1e12 || u[f] > 1e13) fail(`${what}: ${f} is ${show(u[f])}, want epoch milliseconds`);
  }
  if (u.lastUpdateTime < u.creationTime) fail(`${what}: lastUpdateTime ${u.lastUpdateTime} is before creationTime ${u.creationTime}`);
  for (const [k, v] of Object.entries(props)) {
    if (JSON.stringify(u[k]) !== JSON.stringify(v)) fail(`${what}: property ${k} is ${show(u[k])}, want ${show(v)}`);
  }
  const known = new Set(["email", "password", "creationTime", "lastUpdateTime", ...Object.keys(props)]);
  for (const k of Object.keys(u)) {
    if (!known.has(k)) fail(`${what}: unexpected top-level field ${k} in ${show(u)}`);
  }
  return u;
}

// Tokens come from the Go test on stdin, one line per NEED_TOKEN.
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function tokenFromEmail(email) {
  console.log(`NEED_TOKEN ${email}`);
  const { value, done } = await stdin.next();
  if (done) fail(`stdin closed while waiting for the verification token of ${email}`);
  const tok = value.trim();
  if (tok === "") fail(`empty verification token for ${email}`);
  return tok;
}

const id = randomUUID();
const email1 = `thunderjs-${id}@example.com`;
const email2 = `thunderjs-${id}-2@example.com`;
const email3 = `thunderjs-${id}-3@example.com`;
// ASCII: the client sends it in an HTTP header as is.
const password = `Correct-Horse-${id}`;
const props1 = { nickname: "Ada", plan: { tier: "pro", seats: 3, tags: ["a", "b"] }, score: 1.5, active: true, note: null };
const props2 = { nickname: "Grace", plan: { tier: "team", seats: 10, tags: [] }, score: 2, active: false, note: "ünïcødé ✓" };

// createUser: 201, unverified, no token, properties at the top level.
const created = ok("createUser", await call((cb) => thunder.createUser({ email: { address: email1 }, password, ...props1 }, cb)), 201);
user("createUser", created, { address: email1, verified: false, props: props1 });
if (created.email.verificationToken !== null) fail(`createUser: verificationToken is ${show(created.email.verificationToken)}, want null`);
step(`createUser ${email1}`);

refused("createUser again with the same email",
  await call((cb) => thunder.createUser({ email: { address: email1 }, password, ...props1 }, cb)),
  409, "A user with the same email address already exists.");

// getUser: the same user; wrong password and wrong app secret refused.
const got = ok("getUser", await call((cb) => thunder.getUser(email1, password, cb)), 200);
user("getUser", got, { address: email1, verified: false, props: props1 });
if (got.creationTime !== created.creationTime) fail(`getUser: creationTime ${got.creationTime}, want ${created.creationTime}`);
step("getUser");

refused("getUser with a wrong password", await call((cb) => thunder.getUser(email1, `${password}-wrong`, cb)),
  401, "Unable to validate user with provided credentials.");
refused("getUser of an unknown email", await call((cb) => thunder.getUser(`nobody-${id}@example.com`, password, cb)),
  404, "User not found in the database.");
const intruder = new ThunderClient(baseURL, app, `${secret}-wrong`);
refused("getUser with a wrong application secret", await call((cb) => intruder.getUser(email1, password, cb)), 401);
step("refusals: duplicate create 409, wrong password 401, unknown user 404, wrong app secret 401");

// updateUser without an email change (no ?email=): send back the user as
// read, properties changed. Its password field is the stored hash, which
// keeps the password.
// props2 has every key of props1, so this replaces them all.
const updated = ok("updateUser (properties)", await call((cb) => thunder.updateUser(null, password, { ...got, ...props2 }, cb)), 200);
user("updateUser (properties)", updated, { address: email1, verified: false, props: props2 });
if (updated.creationTime !== created.creationTime) fail(`updateUser: creationTime changed from ${created.creationTime} to ${updated.creationTime}`);
const reread = ok("getUser after updateUser (the password must be unchanged)", await call((cb) => thunder.getUser(email1, password, cb)), 200);
user("getUser after updateUser", reread, { address: email1, verified: false, props: props2 });
step("updateUser without an email change; properties round-trip; password kept");

// updateUser with an email change (?email=old).
const moved = ok("updateUser (email change)",
  await call((cb) => thunder.updateUser(email1, password, { ...reread, email: { address: email2 } }, cb)), 200);
user("updateUser (email change)", moved, { address: email2, verified: false, props: props2 });
refused("getUser by the old email after the change", await call((cb) => thunder.getUser(email1, password, cb)),
  404, "User not found in the database.");
ok("getUser by the new email", await call((cb) => thunder.getUser(email2, password, cb)), 200);
step(`updateUser with an email change to ${email2}`);

// sendEmail: 200 with the token, and the same token in the email.
const sent = ok("sendEmail", await call((cb) => thunder.sendEmail(email2, password, cb)), 200);
user("sendEmail", sent, { address: email2, verified: false, props: props2 });
const apiToken = sent.email.verificationToken;
if (typeof apiToken !== "string" || apiToken === "") fail(`sendEmail: verificationToken is ${show(apiToken)}, want the token`);
const token = await tokenFromEmail(email2);
if (token !== apiToken) fail(`sendEmail: the emailed token ${show(token)} differs from the returned one ${show(apiToken)}`);
step("sendEmail; the emailed token matches the returned one");

// verifyUser, json (the client's default): 200 and verified.
refused("verifyUser with a wrong token", await call((cb) => thunder.verifyUser(email2, `${token}x`, cb)),
  400, "Incorrect verification token.");
const verified = ok("verifyUser (json)", await call((cb) => thunder.verifyUser(email2, token, cb, "json")), 200);
user("verifyUser (json)", verified, { address: email2, verified: true, props: props2, noHash: true });
const again = ok("verifyUser (json) a second time", await call((cb) => thunder.verifyUser(email2, token, cb)), 200);
user("verifyUser (json) a second time", again, { address: email2, verified: true, props: props2, noHash: true });
const gotVerified = ok("getUser after verifyUser", await call((cb) => thunder.getUser(email2, password, cb)), 200);
user("getUser after verifyUser", gotVerified, { address: email2, verified: true, props: props2 });
step("verifyUser (json): verified, and again");

// A new email clears verification and kills the token sent to the old one.
const moved2 = ok("updateUser (email change of a verified user)",
  await call((cb) => thunder.updateUser(email2, password, { ...gotVerified, email: { address: email3 } }, cb)), 200);
user("updateUser (email change of a verified user)", moved2, { address: email3, verified: false, props: props2 });
if (moved2.email.verificationToken !== null) fail(`updateUser: verificationToken is ${show(moved2.email.verificationToken)} after an email change, want null`);
refused("verifyUser with the token sent to the old email", await call((cb) => thunder.verifyUser(email3, token, cb)),
  400, "Incorrect verification token.");
step(`updateUser with an email change to ${email3} clears verification`);

// verifyUser, html: Usher answers 303 to /verify/success; the client
// follows it and reports the page's 200.
ok("sendEmail to the new email", await call((cb) => thunder.sendEmail(email3, password, cb)), 200);
const token2 = await tokenFromEmail(email3);
if (token2 === token) fail("sendEmail: the new email got the old token");
const page = ok("verifyUser (html)", await call((cb) => thunder.verifyUser(email3, token2, cb, "html")), 200);
if (typeof page !== "string" || !page.includes("Success!") || !page.includes("Your account has been verified.")) {
  fail(`verifyUser (html): want the success page, got ${show(page)}`);
}
const gotVerified3 = ok("getUser after verifyUser (html)", await call((cb) => thunder.getUser(email3, password, cb)), 200);
user("getUser after verifyUser (html)", gotVerified3, { address: email3, verified: true, props: props2 });
step("verifyUser (html): redirected to the success page, verified");

// resetVerificationStatus: unverified, token voided.
const reset = ok("resetVerificationStatus", await call((cb) => thunder.resetVerificationStatus(email3, password, cb)), 200);
user("resetVerificationStatus", reset, { address: email3, verified: false, props: props2 });
if (reset.email.verificationToken !== null) fail(`resetVerificationStatus: verificationToken is ${show(reset.email.verificationToken)}, want null`);
refused("verifyUser with a token voided by the reset", await call((cb) => thunder.verifyUser(email3, token2, cb)),
  400, "Incorrect verification token.");
step("resetVerificationStatus");

// deleteUser: 200 with the user as it was; then gone.
refused("deleteUser with a wrong password", await call((cb) => thunder.deleteUser(email3, `${password}-wrong`, cb)),
  401, "Unable to validate user with provided credentials.");
const deleted = ok("deleteUser", await call((cb) => thunder.deleteUser(email3, password, cb)), 200);
user("deleteUser", deleted, { address: email3, verified: false, props: props2 });
refused("getUser after deleteUser", await call((cb) => thunder.getUser(email3, password, cb)),
  404, "User not found in the database.");
refused("deleteUser again", await call((cb) => thunder.deleteUser(email3, password, cb)),
  404, "User not found in the database.");
step("deleteUser returned the deleted user; it is gone");

console.log(`thunder-js smoke: OK (${email3})`);
process.exit(0);
