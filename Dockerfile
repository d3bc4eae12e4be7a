# syntax=docker/dockerfile:1
# --- assets: Leaflet, its plugins and Swagger UI from the npm registry, pinned and hash-checked
FROM node:20-bookworm-slim AS assets
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/fetch-assets.sh ./scripts/
COPY maps/vendor.txt ./maps/
COPY api/docs-vendor.txt ./api/
RUN bash scripts/fetch-assets.sh

# --- builder: build the wheel and install it with its dependencies into a venv
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# README.md* : copied when present (pyproject names it as the readme).
COPY pyproject.toml README.md* ./
COPY geodata ./geodata
COPY hotspots ./hotspots
COPY maps ./maps
COPY --from=assets /src/maps/static/vendor ./maps/static/vendor
COPY api ./api
COPY migrations ./migrations
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install /wheels/*.whl

# --- runtime: just the venv, run as a non-root user
FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOTSPOTS_DUCKDB_PATH=/data/hotspots.duckdb \
    HOTSPOTS_MIGRATIONS_DIR=/opt/hotspots/migrations
RUN useradd --create-home --uid 10001 hotspots \
    && mkdir -p /data && chown hotspots:hotspots /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /src/migrations /opt/hotspots/migrations
USER hotspots
WORKDIR /home/hotspots
VOLUME ["/data"]
EXPOSE 8000
# The web service; needs HOTSPOTS_SECRET_KEY (and HOTSPOTS_DATABASE_URL for PostGIS).
# `docker run … hotspots demo --no-serve` loads the demo into /data first.
CMD ["hotspots", "serve", "--host", "0.0.0.0", "--port", "8000"]
