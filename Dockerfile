# Two stages: build a static binary, ship it alone in a small non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces go-imap with the patched copy in the tree; go mod download
# reads that module's go.mod, so it comes before the rest of the source.
COPY migrate/third_party/go-imap/go.mod migrate/third_party/go-imap/go.sum ./migrate/third_party/go-imap/
RUN go mod download
# .dockerignore keeps .git, test binaries, profiles and databases out.
COPY . .
# cmd/movewizard/dockerfile_test.go runs this exact build line.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/movewizard ./cmd/movewizard

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/movewizard /usr/local/bin/movewizard
# /config holds movewizard.toml (set listen = "0.0.0.0:8080" and
# database = "/data/movewizard.db" there); /data holds the SQLite job store.
VOLUME ["/config", "/data"]
WORKDIR /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/movewizard"]
CMD ["serve", "-config", "/config/movewizard.toml"]
