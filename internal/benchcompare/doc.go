// Package benchcompare is the harness behind `make bench-compare`: it puts
// cobrowse-proxy side by side with the upstream served directly, a bare
// httputil.ReverseProxy and nginx's sub_filter, on loopback, in one run, and
// prints req/s and latency percentiles per workload as a markdown table.
//
// Everything is measured in one run because the numbers only mean something
// as ratios: the machine is shared (the load generator and every server
// compete for the same cores), so absolute req/s drift from run to run while
// the ratios hold. Rounds are interleaved (each round runs every target once)
// and the median is reported, so a burst of noise hits all targets alike.
//
// The load generator is wrk (--latency); nginx comes from Debian's
// nginx-light. Both are installed with apt-get when missing and the harness
// runs as root; otherwise it says what to install.
package benchcompare
