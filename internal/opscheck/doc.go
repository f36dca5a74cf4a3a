// Package opscheck holds tests that keep the operations files in deploy/
// true to the code: every metric name the Prometheus rules and the Grafana
// dashboard use is one the proxy really registers, and the example configs
// shipped in the kustomizations load and validate. It has no production
// code; a renamed metric or a new required key fails here, not in a
// customer's alerting.
package opscheck
