-- hotspots: each run's request key (params->>'request_key'), indexed, so that an
-- identical request on unchanged data finds its stored run by one lookup.

CREATE TABLE run_keys (
    request_key text COLLATE "C" PRIMARY KEY,
    run_id      text COLLATE "C" NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE
);
INSERT INTO run_keys
SELECT params->>'request_key', min(run_id)
FROM runs
WHERE params ? 'request_key'
GROUP BY params->>'request_key';
