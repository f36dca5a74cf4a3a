# Multi-stage build of a static cobrowse-proxy binary.
#   docker build -t cobrowse-proxy --build-arg VERSION=$(git describe --always) .
#   docker run -p 8080:8080 -v $PWD/config.yaml:/etc/cobrowse-proxy/config.yaml cobrowse-proxy
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/cobrowse-proxy ./cmd/cobrowse-proxy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cobrowse-proxy /usr/local/bin/cobrowse-proxy
USER nonroot:nonroot
EXPOSE 8080 8443 9090
ENTRYPOINT ["/usr/local/bin/cobrowse-proxy"]
CMD ["run", "-config", "/etc/cobrowse-proxy/config.yaml"]
