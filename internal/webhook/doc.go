// Package webhook signs and sends webhooks as the Standard Webhooks
// specification describes them (https://www.standardwebhooks.com): a JSON
// body of {"type", "timestamp", "data"}, and the headers webhook-id,
// webhook-timestamp and webhook-signature, an HMAC-SHA256 of
// "{id}.{timestamp}.{body}" under a per-endpoint secret serialized as
// "whsec_" + base64. Receivers verify it with any Standard Webhooks library.
//
// The Sender is the HTTP client the relay calls. It is bounded (a timeout
// per request, no redirects, the response body read only up to a small cap)
// and, unless told otherwise, refuses to reach loopback, private,
// link-local and other internal addresses: it checks the addresses a host
// name resolves to when it connects, on every attempt, and connects only to
// the address it checked.
package webhook
