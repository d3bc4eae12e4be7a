-- hotspots: every change to api_keys (an insert, a revocation, a delete, from any
-- process or from psql) notifies channel hotspots_api_keys when it commits, so that
-- each server process forgets the keys it remembered (geodata/stores/key_cache.py).

CREATE FUNCTION hotspots_api_keys_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hotspots_api_keys', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
FOR EACH STATEMENT EXECUTE FUNCTION hotspots_api_keys_changed();
