// Package kubetest holds the tests that check what a real Kubernetes API
// server accepts and stores: the manifests under deploy/, the admission
// webhook registered with it, and the offline `inject` command against the
// webhook. Checking manifest invariants in Go structs alone misses what
// the API server adds or refuses (defaults, Pod Security warnings,
// admission chains), so these tests start etcd and kube-apiserver on
// loopback for each test and talk REST to it with net/http (no client-go).
//
// No kubelet, scheduler or controller-manager runs: pods stay Pending, and
// what is checked is what the API server stores. The harness therefore
// creates each namespace's `default` ServiceAccount itself.
//
// The binaries come from `make kube-tools` (built from the Go module proxy
// by .ci/kube into .cache/kube/bin), or from $KUBE_APISERVER, $ETCD and
// $KUSTOMIZE. Without them the tests skip saying so; under CI=true they
// fail, as CI must run them. The package has no non-test code.
package kubetest
