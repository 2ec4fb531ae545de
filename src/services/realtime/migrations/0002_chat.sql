-- Chat. A room is created with its session's first socket; its events (messages and deletes) carry a
-- per-room offset taken from chat_rooms.last_offset in the same statement that stores them, so offsets
-- are strictly increasing across every instance. The epoch names the room's history for resume.
CREATE TABLE chat_rooms (
  session_id         text PRIMARY KEY,
  epoch              text NOT NULL,
  last_offset        bigint NOT NULL DEFAULT 0,
  slow_mode_seconds  integer NOT NULL DEFAULT 0,
  blocked_terms      jsonb NOT NULL DEFAULT '[]',
  created_at         timestamptz NOT NULL
);

-- kind 'message' or 'deleted' (a delete takes an offset too, so a resume replays it).
CREATE TABLE chat_events (
  session_id   text NOT NULL,
  seq          bigint NOT NULL,
  kind         text NOT NULL,
  message_id   text NOT NULL,
  user_id      text,
  body         text,
  shadow       boolean NOT NULL DEFAULT false,
  deleted_at   timestamptz,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX chat_events_message ON chat_events (message_id) WHERE kind = 'message';

-- One row per (user, kind) and room: 'ban', 'shadow_ban', 'timeout' (until set).
CREATE TABLE chat_restrictions (
  session_id  text NOT NULL,
  user_id     text NOT NULL,
  kind        text NOT NULL,
  until       timestamptz,
  reason      text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (session_id, user_id, kind)
);

CREATE TABLE chat_moderation_log (
  id                 text PRIMARY KEY,
  session_id         text NOT NULL,
  action             text NOT NULL,
  actor              text NOT NULL,
  target_user_id     text,
  target_message_id  text,
  detail             jsonb NOT NULL DEFAULT '{}',
  created_at         timestamptz NOT NULL
);
CREATE INDEX chat_moderation_log_session ON chat_moderation_log (session_id, id);
