# Latchkey: a multi-stage build. The build stage compiles the release binary exactly as the test
# suite does (scripts/ecosystem runs the same `cargo build` line; a test compares them); the
# runtime stage is Debian slim with libpq, a non-root user and the data volume.
#
#   docker build -t latchkey .
#   docker run -p 8080:8080 -v latchkey-data:/data latchkey
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p latchkey

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin latchkey \
    && mkdir -p /data && chown latchkey:latchkey /data && chmod 0700 /data
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
USER 10001:10001
WORKDIR /data
# The database and, unless LATCHKEY_SECRET_KEY is set, the generated cookie key
# (/data/latchkey.db.secret, mode 0600) live on the volume.
ENV LATCHKEY_BIND=0.0.0.0:8080 \
    DATABASE_URL=/data/latchkey.db \
    LATCHKEY_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
# `latchkey healthcheck` GETs /api/health on LATCHKEY_BIND's port over loopback: no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/latchkey", "healthcheck", "--timeout", "4"]
# SIGTERM (docker stop) stops accepting and lets requests in flight finish, up to 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
