-- Publish authorization for a batch of media-server callbacks (ingestRepository.authorizePublishes).
--
-- Why a function: this is the hot path of on_publish. Sent as a plain statement it was parsed, analysed
-- and planned on every call, and on PGlite that planning was more than half of its cost (≈ 1 of ≈ 2 ms,
-- on the server's only thread, with every socket waiting). A PL/pgSQL function keeps its statement's
-- plan for the session (PostgreSQL's plan cache, on every version), so a call only executes. The SQL is
-- the same on PGlite and PostgreSQL.
--
-- Why JSON in and out: PGlite's JavaScript side costs about a microsecond per parameter element and per
-- field of the answer (serializing, then slicing and decoding each field), and allocates for each, which
-- shows up as garbage collection pauses. One JSON document in and one out cost a fraction of seven
-- arrays in and nine columns per row out (measured: ≈ 0.5 against ≈ 0.65 ms for a batch of four).
--
-- p_requests: [{key_hash (hex of the SHA-256), node_id, client_id, addr, app, stream_name, renames}],
-- at most one request per key (one row may not be upserted twice in a statement).
-- For each request whose key is usable on its node, records the publisher on that node's side
-- (replacing a stale one) and makes the ingest live, in one statement (atomic without an explicit
-- transaction). Answers one object per known key: `n` (the request's 1-based position), the key's row
-- as it was before (so `status` is the ingest's previous status) and `accepted` (the publish was
-- recorded). The UPDATE re-checks the status under its row lock, so a concurrent stop wins.
--
-- Each key is looked up through its primary key (LATERAL … LIMIT 1): joined as a set, the planner
-- hashed the whole key table once there were a few thousand keys (ended ingests keep theirs), a scan
-- that grows with history. Only ingests that were idle or reconnecting in the statement's snapshot are
-- updated: one already live needs no write (the earlier form scanned every open ingest to find none).
-- The body has no semicolon at the end of a line: the migrator splits statements there.
CREATE FUNCTION ingest_authorize_publishes(p_requests json, p_now timestamptz) RETURNS json
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  v_answers json; BEGIN
  WITH req AS (
    SELECT decode(r.key_hash, 'hex') AS key_hash, r.node_id, r.client_id, r.addr, r.app, r.stream_name, r.renames, r.n
    FROM ROWS FROM (json_to_recordset(p_requests) AS (key_hash text, node_id text, client_id text, addr text, app text, stream_name text, renames boolean))
      WITH ORDINALITY AS r(key_hash, node_id, client_id, addr, app, stream_name, renames, n)
  ), k AS (
    SELECT r.*, x.* FROM req r CROSS JOIN LATERAL (
      SELECT sk.ingest_id, i.session_id, i.status, i.primary_node_id, i.backup_node_id, sk.expires_at, sk.revoked_at
      FROM ingest_stream_keys sk JOIN ingests i ON i.id = sk.ingest_id WHERE sk.key_hash = r.key_hash LIMIT 1
    ) x
  ), ok AS (
    SELECT * FROM k WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > p_now) AND k.status <> 'ended'
      AND (k.primary_node_id = k.node_id OR k.backup_node_id = k.node_id)
  ), pub AS (
    INSERT INTO ingest_publishers AS p (ingest_id, side, node_id, client_id, addr, app, stream_name, state, started_at, last_seen_at)
    SELECT ok.ingest_id, CASE WHEN ok.primary_node_id = ok.node_id THEN 'primary' ELSE 'backup' END, ok.node_id, ok.client_id, ok.addr, ok.app,
           CASE WHEN ok.renames THEN ok.session_id ELSE COALESCE(ok.stream_name, ok.session_id) END, 'publishing', p_now, p_now
    FROM ok
    ON CONFLICT (ingest_id, side) DO UPDATE SET node_id = EXCLUDED.node_id, client_id = EXCLUDED.client_id, addr = EXCLUDED.addr, app = EXCLUDED.app,
      stream_name = EXCLUDED.stream_name, state = 'publishing', started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at, ended_at = NULL, end_reason = NULL
    RETURNING p.ingest_id
  ), live AS (
    UPDATE ingests i SET status = 'live', live_at = COALESCE(i.live_at, p_now), disconnected_at = NULL, updated_at = p_now
    WHERE i.id IN (SELECT ok.ingest_id FROM ok WHERE ok.status IN ('idle', 'reconnecting')) AND i.status IN ('idle', 'reconnecting')
    RETURNING i.id
  )
  SELECT json_agg(json_build_object('n', k.n, 'ingest_id', k.ingest_id, 'session_id', k.session_id, 'status', k.status,
           'primary_node_id', k.primary_node_id, 'backup_node_id', k.backup_node_id, 'expires_at', k.expires_at, 'revoked_at', k.revoked_at,
           'accepted', EXISTS (SELECT 1 FROM pub WHERE pub.ingest_id = k.ingest_id) AND (k.status = 'live' OR EXISTS (SELECT 1 FROM live WHERE live.id = k.ingest_id))))
    INTO v_answers FROM k; RETURN COALESCE(v_answers, '[]'); END
$fn$;
