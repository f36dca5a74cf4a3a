# The cobrowse-proxy image: one static binary and the CA certificates, on
# scratch. Nothing is pulled and nothing is compiled here, so it builds
# offline: `make image` builds the binary on the host (CGO off, -trimpath,
# version, commit and build date stamped), stages it with the host's
# /etc/ssl/certs/ca-certificates.crt in bin/image/ and builds this file with
# that directory as the context:
#   make image                    # podman, or docker when it runs
#   make image-test               # build and check user, labels, entrypoint, size
# Run it:
#   podman run --rm -p 8480:8480 -v $PWD/config.yaml:/etc/cobrowse-proxy/config.yaml:ro \
#     ghcr.io/cobrowse-proxy/cobrowse-proxy:latest
#
# No shell, no package manager, no /tmp: the root filesystem can be
# read-only (Kubernetes readOnlyRootFilesystem: true); the only path the
# proxy writes is tls.acme.storage, when ACME is used (mount a volume there).
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="cobrowse-proxy" \
      org.opencontainers.image.description="A reverse proxy that adds Zoom Cobrowse to an existing website without changing its code" \
      org.opencontainers.image.source="https://github.com/cobrowse-proxy/cobrowse-proxy" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY cobrowse-proxy /cobrowse-proxy

# Numeric, so that a pod with runAsNonRoot: true is admitted without a
# runAsUser (the kubelet cannot check a user name); 65532 is distroless's
# "nonroot".
USER 65532:65532

# The ports the Kubernetes manifests configure (deploy/): listen.http
# ":8480", listen.https ":8443" (tls.mode files or acme), listen.admin
# ":9480" (/metrics, /healthz, /readyz). The config decides; these document.
EXPOSE 8480 8443 9480

# Without -config, run reads $COBROWSE_PROXY_CONFIG, else
# /etc/cobrowse-proxy/config.yaml (mount the ConfigMap there).
ENTRYPOINT ["/cobrowse-proxy"]
CMD ["run"]
