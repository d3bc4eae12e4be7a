-- hotspots: the web service's records: analysis runs, API keys (hashed),
-- share links with a log of their opens, and background jobs.
-- Every timestamp in these tables is UTC, stored as `timestamp` without a zone
-- (the application converts an aware datetime to naive UTC before writing).
-- Ids are COLLATE "C" so ties in listings order the same as in DuckDB.

CREATE TABLE runs (
    run_id     text COLLATE "C" PRIMARY KEY,
    method     text NOT NULL,
    params     jsonb NOT NULL,
    provenance jsonb NOT NULL,
    result     jsonb NOT NULL,        -- GeoJSON FeatureCollection
    created_at timestamp NOT NULL     -- UTC
);
CREATE INDEX runs_created ON runs (created_at DESC, run_id DESC);
CREATE INDEX runs_method_created ON runs (method, created_at DESC, run_id DESC);

CREATE TABLE api_keys (
    key_id     text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    role       text NOT NULL CHECK (role IN ('analyst', 'partner', 'public')),
    key_hash   text NOT NULL,         -- SHA-256 of the key; the key itself is never stored
    created_at timestamp NOT NULL,    -- UTC
    revoked_at timestamp              -- UTC
);
CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);

-- No foreign key to runs: a link outlives a deleted run (opening it then says so).
CREATE TABLE share_links (
    link_id    text COLLATE "C" PRIMARY KEY,
    run_id     text NOT NULL,
    role       text NOT NULL CHECK (role IN ('analyst', 'partner', 'public')),
    filters    jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamp NOT NULL,    -- UTC
    expires_at timestamp NOT NULL,    -- UTC
    revoked_at timestamp              -- UTC
);
CREATE INDEX share_links_created ON share_links (created_at DESC, link_id DESC);

CREATE TABLE share_opens (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id   text COLLATE "C" NOT NULL REFERENCES share_links (link_id) ON DELETE CASCADE,
    opened_at timestamp NOT NULL,     -- UTC
    client    text
);
CREATE INDEX share_opens_link ON share_opens (link_id);

CREATE TABLE jobs (
    job_id     text COLLATE "C" PRIMARY KEY,
    kind       text NOT NULL,
    status     text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress   double precision NOT NULL CHECK (progress >= 0 AND progress <= 1),
    message    text NOT NULL,
    result     jsonb,
    created_at timestamp NOT NULL,    -- UTC
    updated_at timestamp NOT NULL     -- UTC
);
