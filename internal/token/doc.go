// Package token issues the Zoom Cobrowse JWTs the SDK needs and decides who
// may have one. It is the only place that touches the SDK secret.
//
// The request and response shapes of POST {prefix}/token follow Zoom's
// official auth sample, so existing front-ends work unchanged, but the
// sample's security is not kept: a customer token (role 1) goes only to a
// same-origin browser request and is rate-limited per client address, and an
// agent token (role 2) goes only to an authenticated agent (a bearer access
// key stored as a SHA-256 hash, an identity header from a trusted auth proxy,
// or a signed session cookie obtained with an access key).
//
// Invariants:
//   - Fail closed: when a check cannot be made (the secret file is missing
//     or empty, agent authentication is not configured) no token is issued.
//   - The SDK secret never appears in an error, a log line, a metric label
//     or a response; access keys are held only as hashes.
//   - Everything that varies is passed in (logger, metrics registerer,
//     clock, client and peer address functions); the package has no
//     package-level mutable state.
package token
