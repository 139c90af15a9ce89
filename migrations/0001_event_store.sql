-- The event store: an append-only log in its own schema, beside the read models.
CREATE SCHEMA eventstore;

-- One row holding the newest global position. An append locks it from the
-- moment it takes positions until it commits, so positions are handed out in
-- commit order with no gaps: a reader that follows `global_position > last`
-- can never pass an event that a slower writer commits later.
CREATE TABLE eventstore.head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position  bigint  NOT NULL CHECK (position >= 0)
);
INSERT INTO eventstore.head (singleton, position) VALUES (true, 0);

-- The version of each stream; its row lock serialises writers of one stream.
-- Events refer to their stream by the compact `stream_key`: an index on
-- (bigint, bigint) costs far less per append than one on the stream's name.
CREATE TABLE eventstore.streams (
    stream_id  text   PRIMARY KEY,
    stream_key bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    version    bigint NOT NULL CHECK (version >= 0)
);

CREATE TABLE eventstore.events (
    global_position bigint      PRIMARY KEY CHECK (global_position > 0),
    stream_key      bigint      NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version BETWEEN 1 AND 65535),
    payload         bytea       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    causation_id    uuid,
    correlation_id  uuid,
    origin          text        NOT NULL CHECK (origin IN ('bluesky', 'openmeet')),
    actor           text        NOT NULL,
    UNIQUE (stream_key, stream_version)
);

-- The log is append-only: no role may rewrite or remove history, whatever
-- its table privileges.
CREATE FUNCTION eventstore.refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'eventstore.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'raise_exception', HINT = 'append a compensating event instead';
END;
$$;

CREATE TRIGGER events_are_append_only
    BEFORE UPDATE OR DELETE ON eventstore.events
    FOR EACH ROW EXECUTE FUNCTION eventstore.refuse_rewrite();
CREATE TRIGGER events_are_never_truncated
    BEFORE TRUNCATE ON eventstore.events
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.refuse_rewrite();
CREATE TRIGGER streams_are_never_deleted
    BEFORE DELETE ON eventstore.streams
    FOR EACH ROW EXECUTE FUNCTION eventstore.refuse_rewrite();
CREATE TRIGGER streams_are_never_truncated
    BEFORE TRUNCATE ON eventstore.streams
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.refuse_rewrite();
