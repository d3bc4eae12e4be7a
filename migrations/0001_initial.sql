-- hotspots: initial schema for the PostGIS store.
-- Geometry is kept in the analysis CRS (EPSG:27700 by default; recorded in
-- hotspots_meta.analysis_crs) with a GIST index; time has a B-tree index.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE hotspots_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE batches (
    batch_id      text PRIMARY KEY,
    source        text NOT NULL,
    period        text NOT NULL,
    content_hash  text NOT NULL,
    files         jsonb NOT NULL,
    rows_read     bigint NOT NULL,
    rows_accepted bigint NOT NULL,
    rows_rejected bigint NOT NULL,
    imported_at   timestamp NOT NULL,
    crs           text NOT NULL
);

CREATE TABLE incidents (
    id                 text COLLATE "C" PRIMARY KEY,
    batch_id           text NOT NULL,
    source             text NOT NULL,
    source_ref         text,
    category           text NOT NULL,
    category_raw       text,
    occurred_at        timestamp NOT NULL,
    occurred_precision text NOT NULL CHECK (occurred_precision IN ('month', 'day', 'minute')),
    lon                double precision NOT NULL,
    lat                double precision NOT NULL,
    x                  double precision NOT NULL,
    y                  double precision NOT NULL,
    location           text,
    lsoa_code          text,
    ward_code          text,
    sensitive          boolean NOT NULL DEFAULT false,
    flags              text,
    attributes         text,
    source_row         bigint,
    geom               geometry(Point) NOT NULL
);
CREATE INDEX incidents_geom_gist ON incidents USING gist (geom);
CREATE INDEX incidents_occurred_at ON incidents (occurred_at);
CREATE INDEX incidents_batch ON incidents (batch_id);
CREATE INDEX incidents_category_time ON incidents (category, occurred_at);

CREATE TABLE quarantine (
    batch_id   text NOT NULL,
    source     text NOT NULL,
    file       text NOT NULL,
    row_number bigint NOT NULL,
    reason     text NOT NULL,
    field      text,
    detail     text,
    raw        text
);
CREATE INDEX quarantine_batch ON quarantine (batch_id, file, row_number);

CREATE TABLE boundaries (
    kind text NOT NULL,
    code text NOT NULL,
    name text,
    geom geometry(MultiPolygon) NOT NULL,
    PRIMARY KEY (kind, code)
);
CREATE INDEX boundaries_geom_gist ON boundaries USING gist (geom);

CREATE TABLE population (
    kind       text NOT NULL,
    area_code  text NOT NULL,
    year       integer NOT NULL,
    population double precision NOT NULL CHECK (population >= 0),
    PRIMARY KEY (kind, area_code, year)
);
