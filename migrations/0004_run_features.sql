-- hotspots: run features as rows (geodata/stores/run_rows.py). Each view of a run
-- (its hotspots as one disclosure policy shows them, keyed by everything the
-- shaping depends on) is written once, on first read, as one row per feature, so
-- OGC items are selected by bbox and filter, and paged, in SQL. `run_views` says a
-- view is complete (count, bounds in CRS84, and what the API kept with it).
-- Runs stored before this migration get their views the same way, when first read.

CREATE TABLE run_views (
    run_id     text COLLATE "C" NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    view_key   text COLLATE "C" NOT NULL,
    n_features integer NOT NULL,
    min_x       double precision,      -- bounds of the view's geometries, CRS84
    min_y       double precision,
    max_x       double precision,
    max_y       double precision,
    meta       jsonb NOT NULL,
    PRIMARY KEY (run_id, view_key)
);

CREATE TABLE run_features (
    run_id     text COLLATE "C" NOT NULL,
    view_key   text COLLATE "C" NOT NULL,
    seq        integer NOT NULL,      -- position in the view (the keyset of paging)
    fid        text COLLATE "C" NOT NULL,
    properties jsonb NOT NULL,        -- the feature's properties, for filters
    feature    text NOT NULL,         -- the whole GeoJSON feature, as served
    geom       geometry(Geometry, 4326),
    PRIMARY KEY (run_id, view_key, seq),
    FOREIGN KEY (run_id, view_key) REFERENCES run_views ON DELETE CASCADE
);
CREATE INDEX run_features_fid ON run_features (run_id, view_key, fid);
CREATE INDEX run_features_geom_gist ON run_features USING gist (geom);
