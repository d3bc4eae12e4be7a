-- hotspots: the interventions log (days of action, CCTV, lighting, patrols, ...).
-- `geometry` is the target area as GeoJSON in WGS84 (what maps draw and what the
-- application reads back); `geom` is the same area in the analysis CRS, for GIS
-- clients and spatial queries. Dates are inclusive; created_at is UTC.

CREATE TABLE interventions (
    intervention_id text COLLATE "C" PRIMARY KEY,
    title           text NOT NULL,
    kind            text NOT NULL,
    area_type       text NOT NULL CHECK (area_type IN ('polygon', 'cells', 'ward', 'lsoa')),
    area_codes      jsonb NOT NULL,       -- H3 cells, or the one ward / LSOA code
    geometry        jsonb NOT NULL,       -- GeoJSON Polygon / MultiPolygon, WGS84
    geom            geometry(MultiPolygon) NOT NULL,  -- analysis CRS
    start_date      date NOT NULL,
    end_date        date NOT NULL CHECK (end_date >= start_date),
    officer_hours   double precision CHECK (officer_hours >= 0),
    notes           text NOT NULL,
    created_at      timestamp NOT NULL,   -- UTC
    created_by      text NOT NULL
);
CREATE INDEX interventions_start ON interventions (start_date DESC, intervention_id DESC);
CREATE INDEX interventions_geom_gist ON interventions USING gist (geom);
