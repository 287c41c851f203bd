# syntax=docker/dockerfile:1

# Build a static binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
# goolm: the pure-Go Olm of mautrix, for Matrix end-to-end encryption.
RUN CGO_ENABLED=0 go build -trimpath -tags goolm \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/policywire ./cmd/policywire \
 && mkdir -p /out/data

# Run it on distroless: CA certificates, no shell, a non-root user (65532).
# Time zones come from the binary (time/tzdata).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/policywire /usr/local/bin/policywire
# An empty /data owned by the run user, so a new volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
# The database, search index and control socket. Mount the config read-only:
#   docker run -v ./config.yaml:/etc/policywire/config.yaml:ro -v pw-data:/data ...
# with data_dir: /data in that config.
VOLUME /data
WORKDIR /data
USER nonroot:nonroot
ENV POLICYWIRE_CONFIG=/etc/policywire/config.yaml
# Set http.listen: ":8080" in the config to reach the endpoints from outside.
EXPOSE 8080
ENTRYPOINT ["policywire"]
CMD ["run", "-c", "/etc/policywire/config.yaml"]
