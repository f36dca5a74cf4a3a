#!/usr/bin/env bash
# Builds the container image (make image) and checks what Kubernetes and
# users rely on: the numeric non-root user, the OCI labels, the entrypoint
# and default command, the CA bundle, a size bound, and (where a container
# runtime works) that `version` runs in it on a read-only root filesystem
# and prints the stamped commit.
# Without podman or a running docker it skips; under CI=true that is a
# failure (.ci/run installs podman).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-ghcr.io/cobrowse-proxy/cobrowse-proxy:latest}
CONTAINER=${CONTAINER:-podman --storage-driver vfs}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
# The image is about 34 MB (the binary 33.6 MB, the CA bundle 0.2 MB); much
# bigger means something else got in.
MAX_BYTES=${MAX_BYTES:-60000000}

tool=${CONTAINER%% *}
if ! command -v "$tool" >/dev/null 2>&1 || { [ "$tool" = docker ] && ! docker info >/dev/null 2>&1; }; then
  if [ "${CI:-}" = true ]; then
    echo "image-test: FAIL: no podman (or running docker); install it: apt-get install podman" >&2
    exit 1
  fi
  echo "image-test: SKIP: no podman (or running docker)"
  exit 0
fi

${MAKE:-make} --no-print-directory image CONTAINER="$CONTAINER" IMAGE="$IMAGE" VERSION="$VERSION" COMMIT="$COMMIT"

fail=0
check() { # check NAME GOT WANT
  if [ "$2" != "$3" ]; then
    echo "image-test: FAIL: $1 is '$2', want '$3'" >&2
    fail=1
  else
    echo "image-test: ok: $1 = $2"
  fi
}
inspect() { $CONTAINER image inspect --format "$1" "$IMAGE"; }

check user "$(inspect '{{.Config.User}}')" "65532:65532"
check entrypoint "$(inspect '{{json .Config.Entrypoint}}')" '["/cobrowse-proxy"]'
check cmd "$(inspect '{{json .Config.Cmd}}')" '["run"]'
check revision-label "$(inspect '{{index .Config.Labels "org.opencontainers.image.revision"}}')" "$COMMIT"
check version-label "$(inspect '{{index .Config.Labels "org.opencontainers.image.version"}}')" "$VERSION"
check source-label "$(inspect '{{index .Config.Labels "org.opencontainers.image.source"}}')" "https://github.com/cobrowse-proxy/cobrowse-proxy"
created=$(inspect '{{index .Config.Labels "org.opencontainers.image.created"}}')
if [[ ! $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]; then
  echo "image-test: FAIL: created label '$created' is not an RFC 3339 UTC time" >&2
  fail=1
fi
size=$(inspect '{{.Size}}')
echo "image-test: size $size bytes ($((size / 1000000)) MB)"
if [ "$size" -gt "$MAX_BYTES" ]; then
  echo "image-test: FAIL: image is $size bytes, more than MAX_BYTES=$MAX_BYTES" >&2
  fail=1
fi

# Running needs a working runtime (crun/runc); inside some CI containers
# there is none, and the checks above still hold.
if out=$($CONTAINER run --rm --read-only --network none --user 65532:65532 "$IMAGE" version 2>&1); then
  echo "image-test: ok: runs read-only: $out"
  case $out in
    *"commit $COMMIT"*) ;;
    *) echo "image-test: FAIL: version output lacks commit $COMMIT" >&2; fail=1 ;;
  esac
  if ! $CONTAINER run --rm --read-only --network none --entrypoint /cobrowse-proxy "$IMAGE" \
      probe -url http://127.0.0.1:1/readyz -timeout 1s >/dev/null 2>&1; then
    echo "image-test: ok: probe exits non-zero when nothing answers"
  else
    echo "image-test: FAIL: probe succeeded against a closed port" >&2
    fail=1
  fi
  if [ "$($CONTAINER run --rm --read-only --network none --entrypoint /cobrowse-proxy "$IMAGE" run 2>&1 | grep -c COBROWSE_PROXY_CONFIG)" -lt 1 ]; then
    echo "image-test: FAIL: run without a config should name COBROWSE_PROXY_CONFIG" >&2
    fail=1
  fi
else
  echo "image-test: note: could not run the image here (no working runtime?): $out"
fi
exit $fail
