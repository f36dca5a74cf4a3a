// Package browsertest holds the end-to-end tests of the customer side in a
// real browser: headless Chromium, driven from Go with chromedp, loads pages
// through the whole proxy (server.NewHandler) from a test upstream, and the
// page loads the Zoom SDK from its real CDN URL, which Chromium's
// --host-resolver-rules send to an HTTPS stub serving a fake SDK.
//
// The tests live in their own package because they exercise every other
// one at once (config, server, proxy, inject, csp, token, web); the package
// has no non-test code. Without Chromium they skip, saying how to install
// it (apt-get install -y chromium). Screenshots of the widget's states go to
// $COBROWSE_ARTIFACTS (default: a temporary directory).
package browsertest
