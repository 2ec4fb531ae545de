-- Player telemetry (QoE): one row per view (a playback attempt), recomputed from that view's own
-- state events whenever new ones arrive, so the metrics endpoint aggregates views, never raw events.

-- `events` (JSON text: only this service reads it, and text costs less to rewrite than jsonb) holds
-- the view's state-changing events, deduplicated by event_id, as [ts_ms, type_code,
-- event_id, value?] (telemetry.views.ts); heartbeats only move first_event_at / last_event_at. The
-- other columns are derived from `events` and those two times by computeView(), which is a pure
-- function: out-of-order and late events give the same row as in-order ones.
CREATE TABLE telemetry_views (
  session_id        text NOT NULL,
  viewer_id         text NOT NULL,
  view_id           text NOT NULL,
  events            text NOT NULL DEFAULT '[]',
  first_event_at    timestamptz NOT NULL,
  last_event_at     timestamptz NOT NULL,
  started_at        timestamptz NOT NULL,
  ended_at          timestamptz,
  state             text NOT NULL DEFAULT 'starting',
  startup_ms        double precision,
  watch_ms          double precision NOT NULL DEFAULT 0,
  playing_ms        double precision NOT NULL DEFAULT 0,
  rebuffer_ms       double precision NOT NULL DEFAULT 0,
  rebuffer_count    integer NOT NULL DEFAULT 0,
  failed            boolean NOT NULL DEFAULT false,
  exited_before_start boolean NOT NULL DEFAULT false,
  bitrate_weighted  double precision NOT NULL DEFAULT 0,
  bitrate_ms        double precision NOT NULL DEFAULT 0,
  dim_device        text,
  dim_os            text,
  dim_browser       text,
  dim_country       text,
  dim_player        text,
  dim_cdn           text,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, viewer_id, view_id)
) WITH (fillfactor = 50);
CREATE INDEX telemetry_views_session_started ON telemetry_views (session_id, started_at);
