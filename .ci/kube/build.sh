#!/usr/bin/env bash
# build.sh OUTDIR: builds kube-apiserver, etcd and kustomize from this
# module (versions pinned in go.mod) into OUTDIR, for the API-server tests
# in internal/kubetest. A binary is rebuilt only when its stamp
# (OUTDIR/NAME.version: the module's go.mod and go.sum, this script and
# the Go version) differs, so a second run costs a few hashes.
set -euo pipefail
out=$(realpath -m "${1:?usage: build.sh OUTDIR}")
cd "$(dirname "$0")"
GO=${GO:-go}
mkdir -p "$out"

# kube-apiserver reports this as its version (otherwise v0.0.0-master).
kube_version=$(awk '$1 == "k8s.io/kubernetes" { print $2 }' go.mod)
stamp=$( { cat go.mod go.sum build.sh cmd/etcd/main.go; $GO version; } | sha256sum | cut -d' ' -f1)

build() { # build NAME PACKAGE [ldflags]
  local name=$1 pkg=$2 ldflags="-s -w ${3:-}"
  if [ -x "$out/$name" ] && [ "$(cat "$out/$name.version" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  echo "kube-tools: building $name ($pkg)"
  local start=$SECONDS
  CGO_ENABLED=0 $GO build -trimpath -ldflags "$ldflags" -o "$out/$name.tmp" "$pkg"
  mv "$out/$name.tmp" "$out/$name"
  echo "$stamp" > "$out/$name.version"
  echo "kube-tools: built $name in $((SECONDS - start))s"
}

build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
  "-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$kube_version" | cut -d. -f2)"
build etcd ./cmd/etcd
build kustomize sigs.k8s.io/kustomize/kustomize/v5
