# Build stage: the release binary (SQLite is bundled; libpq for PostgreSQL).
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p latchkey

# Runtime stage: a small Debian with libpq, a non-root user and a data volume.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data latchkey \
    && mkdir -p /data && chown latchkey /data
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
USER latchkey
WORKDIR /data
ENV LATCHKEY_BIND=0.0.0.0:8080 DATABASE_URL=/data/latchkey.db
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
