-- Ingest service schema. Statements end with ';' at the end of a line (the migrator splits there).
-- `ingests.session_id` refers to the session service's table: every process applies the session
-- migrations first (they hold the operator keys all services authenticate with).

-- One row: the generated key node hook secrets are derived from (when STREAMPLANE_INGEST_HOOK_KEY is unset).
CREATE TABLE ingest_settings (
  name   text PRIMARY KEY,
  value  text NOT NULL
);

CREATE TABLE ingest_nodes (
  id              text PRIMARY KEY,
  name            text NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('nginx-rtmp', 'srs', 'ome', 'mediamtx')),
  region          text NOT NULL,
  machine         text NOT NULL,
  ingest_url      text NOT NULL,
  stats_url       text,
  control_url     text,
  capacity        integer NOT NULL CHECK (capacity > 0),
  limits          jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          text NOT NULL CHECK (status IN ('active', 'draining')),
  secret_version  integer NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  deleted_at      timestamptz
);
CREATE UNIQUE INDEX ingest_nodes_name ON ingest_nodes (name) WHERE deleted_at IS NULL;

CREATE TABLE ingests (
  id                        text PRIMARY KEY,
  session_id                text NOT NULL REFERENCES sessions (id),
  status                    text NOT NULL CHECK (status IN ('idle', 'live', 'reconnecting', 'ended')),
  protocol                  text NOT NULL,
  region                    text,
  redundant                 boolean NOT NULL,
  quality_profile           text NOT NULL,
  primary_node_id           text NOT NULL REFERENCES ingest_nodes (id),
  backup_node_id            text REFERENCES ingest_nodes (id),
  active_side               text NOT NULL CHECK (active_side IN ('primary', 'backup')),
  reconnect_window_seconds  integer NOT NULL CHECK (reconnect_window_seconds >= 0),
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL,
  live_at                   timestamptz,
  disconnected_at           timestamptz,
  ended_at                  timestamptz,
  end_reason                text,
  last_failover_at          timestamptz,
  created_by                text NOT NULL,
  CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);
CREATE UNIQUE INDEX ingests_one_open_per_session ON ingests (session_id) WHERE status <> 'ended';
CREATE INDEX ingests_open ON ingests (status) WHERE status <> 'ended';
CREATE INDEX ingests_session ON ingests (session_id, id);

-- Only the SHA-256 of a stream key is kept; the key itself is shown once.
CREATE TABLE ingest_stream_keys (
  key_hash    bytea PRIMARY KEY,
  ingest_id   text NOT NULL REFERENCES ingests (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz,
  revoked_at  timestamptz
);
CREATE INDEX ingest_stream_keys_ingest ON ingest_stream_keys (ingest_id);

-- The current (or last) publisher of each side. A new publish on a side replaces the row.
CREATE TABLE ingest_publishers (
  ingest_id     text NOT NULL REFERENCES ingests (id) ON DELETE CASCADE,
  side          text NOT NULL CHECK (side IN ('primary', 'backup')),
  node_id       text NOT NULL REFERENCES ingest_nodes (id),
  client_id     text,
  addr          text,
  app           text,
  stream_name   text NOT NULL,
  state         text NOT NULL CHECK (state IN ('publishing', 'gone')),
  started_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  ended_at      timestamptz,
  end_reason    text,
  PRIMARY KEY (ingest_id, side)
);

CREATE TABLE ingest_failovers (
  id         bigserial PRIMARY KEY,
  ingest_id  text NOT NULL REFERENCES ingests (id) ON DELETE CASCADE,
  from_side  text NOT NULL,
  to_side    text NOT NULL,
  reason     text NOT NULL,
  manual     boolean NOT NULL,
  at         timestamptz NOT NULL
);
CREATE INDEX ingest_failovers_ingest ON ingest_failovers (ingest_id, id);
