-- Session service schema. Statements end with ';' at the end of a line (the migrator splits there).

CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  name          text NOT NULL,
  secret_hash   bytea NOT NULL,
  created_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);

CREATE TABLE sessions (
  id              text PRIMARY KEY,
  title           text,
  status          text NOT NULL CHECK (status IN ('created', 'live', 'ended')),
  max_viewers     integer CHECK (max_viewers IS NULL OR max_viewers > 0),
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  live_at         timestamptz,
  ended_at        timestamptz,
  end_reason      text,
  peak_viewers    integer NOT NULL DEFAULT 0,
  unique_viewers  integer NOT NULL DEFAULT 0,
  created_by      text NOT NULL
);
CREATE INDEX sessions_status_id ON sessions (status, id);

CREATE TABLE session_viewers (
  session_id     text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  viewer_id      text NOT NULL,
  first_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (session_id, viewer_id)
);

CREATE TABLE idempotency_keys (
  scope         text NOT NULL,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  status        integer NOT NULL,
  body          jsonb NOT NULL,
  created_at    timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,
  alg          text NOT NULL,
  private_jwk  jsonb NOT NULL,
  public_jwk   jsonb NOT NULL,
  created_at   timestamptz NOT NULL,
  retired_at   timestamptz,
  expires_at   timestamptz
);

CREATE TABLE token_families (
  id                  text PRIMARY KEY,
  session_id          text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  viewer_id           text NOT NULL,
  scopes              jsonb NOT NULL,
  access_ttl_seconds  integer NOT NULL,
  created_at          timestamptz NOT NULL,
  revoked_at          timestamptz
);
CREATE INDEX token_families_viewer ON token_families (session_id, viewer_id);

CREATE TABLE refresh_tokens (
  token_hash  bytea PRIMARY KEY,
  family_id   text NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- Durable revocations; every instance mirrors the unexpired ones in memory.
CREATE TABLE revocations (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('jti', 'family', 'viewer', 'session')),
  subject     text NOT NULL,
  revoked_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);
CREATE INDEX revocations_expires_at ON revocations (expires_at);
