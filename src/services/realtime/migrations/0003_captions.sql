-- Captions. A session's caption room is created with its first caption socket; each cue takes the next
-- per-session seq from caption_rooms.last_seq in the same statement that stores it. The row lock of
-- that update is held until commit, so seqs are strictly increasing across every instance and a cue
-- is never visible before its predecessors (the relay's gap fill relies on it).
CREATE TABLE caption_rooms (
  session_id  text PRIMARY KEY,
  last_seq    bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL
);

-- Times are media time in ms. The checks repeat the socket's validation so that no writer can store a
-- cue the WebVTT renderer would have to reject.
CREATE TABLE caption_cues (
  session_id  text NOT NULL,
  seq         bigint NOT NULL,
  start_ms    integer NOT NULL CHECK (start_ms >= 0),
  end_ms      integer NOT NULL CHECK (end_ms > start_ms AND end_ms <= 86400000),
  body        text NOT NULL,
  lang        text NOT NULL,
  user_id     text NOT NULL,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (session_id, seq)
);
