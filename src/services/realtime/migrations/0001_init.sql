-- Realtime service schema. Statements end with ';' at the end of a line (the migrator splits there).

-- The operator event stream's log: domain events seen on the Bus, in id order, kept for the retention
-- window. Every realtime instance records what it sees; the dedupe key makes that one row per event.
CREATE TABLE event_log (
  id           bigserial PRIMARY KEY,
  topic        text NOT NULL,
  payload      jsonb NOT NULL,
  dedupe_key   bytea NOT NULL UNIQUE,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_recorded_at ON event_log (recorded_at);
