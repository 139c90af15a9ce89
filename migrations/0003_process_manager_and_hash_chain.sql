-- The process manager's checkpoint, and a hash chain that makes the log
-- tamper-evident.

CREATE SCHEMA process;

-- How far a process manager has carried out its decisions. Its state is not
-- stored anywhere: it is rebuilt from the log when it starts.
CREATE TABLE process.checkpoints (
    name     text   PRIMARY KEY,
    position bigint NOT NULL CHECK (position >= 0)
);

-- A field of the digest: its length, then its bytes, so no two events share
-- an encoding.
CREATE FUNCTION eventstore.framed(bytes bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT int4send(length(bytes)) || bytes
$$;

-- The digest of one event: every column an auditor relies on. The Rust
-- verifier (store/src/postgres/chain.rs) computes the same bytes.
CREATE FUNCTION eventstore.event_digest(e eventstore.events) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(
           int8send(e.global_position)
        || int8send(e.stream_version)
        || int4send(e.schema_version)
        || int8send((extract(epoch FROM e.recorded_at) * 1000000)::bigint)
        || uuid_send(e.event_id)
        || CASE WHEN e.causation_id IS NULL THEN '\x00'::bytea
                ELSE '\x01'::bytea || uuid_send(e.causation_id) END
        || CASE WHEN e.correlation_id IS NULL THEN '\x00'::bytea
                ELSE '\x01'::bytea || uuid_send(e.correlation_id) END
        || eventstore.framed(convert_to(e.stream_id, 'UTF8'))
        || eventstore.framed(convert_to(e.event_type, 'UTF8'))
        || eventstore.framed(convert_to(e.origin, 'UTF8'))
        || eventstore.framed(convert_to(e.actor, 'UTF8'))
        || eventstore.framed(e.payload))
$$;

-- One link of the chain. The first value folded is taken as it is: it is
-- the hash the chain continues from.
CREATE FUNCTION eventstore.chain_step(previous bytea, digest bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN previous IS NULL THEN digest ELSE sha256(previous || digest) END
$$;

CREATE AGGREGATE eventstore.chain(bytea) (SFUNC = eventstore.chain_step, STYPE = bytea);

-- The hash of every event: sha256(hash of the event before || its digest).
-- One global chain, not one per stream: positions are already handed out
-- one writer at a time under the head lock, so the chain costs no extra
-- contention, and it also proves that no event was removed or reordered
-- between streams.
CREATE TABLE eventstore.event_hashes (
    global_position bigint PRIMARY KEY,
    hash            bytea  NOT NULL CHECK (octet_length(hash) = 32)
);

CREATE TABLE eventstore.chain_tip (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position  bigint  NOT NULL,
    hash      bytea   NOT NULL
);
INSERT INTO eventstore.chain_tip VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Events stored before this migration are chained now, in log order.
WITH links AS (
    SELECT s.global_position, eventstore.chain(s.link) OVER (ORDER BY s.global_position) AS hash
    FROM (SELECT position AS global_position, hash AS link FROM eventstore.chain_tip
          UNION ALL
          SELECT e.global_position, eventstore.event_digest(e) FROM eventstore.events e) s
)
INSERT INTO eventstore.event_hashes SELECT * FROM links WHERE global_position > 0;
UPDATE eventstore.chain_tip SET (position, hash) =
    (SELECT global_position, hash FROM eventstore.event_hashes ORDER BY global_position DESC LIMIT 1)
WHERE EXISTS (SELECT FROM eventstore.event_hashes);

-- Every append extends the chain in the same transaction. Appenders hold
-- the head lock already, so they reach the tip one at a time, in position
-- order.
CREATE FUNCTION eventstore.extend_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tip eventstore.chain_tip;
    first_position bigint;
BEGIN
    SELECT min(global_position) INTO first_position FROM appended;
    IF first_position IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO tip FROM eventstore.chain_tip FOR UPDATE;
    IF first_position <> tip.position + 1 THEN
        RAISE EXCEPTION 'the hash chain ends at position %, but the append starts at %',
            tip.position, first_position;
    END IF;
    WITH links AS (
        SELECT s.global_position, eventstore.chain(s.link) OVER (ORDER BY s.global_position) AS hash
        FROM (SELECT tip.position AS global_position, tip.hash AS link
              UNION ALL
              SELECT a.global_position, eventstore.event_digest(a) FROM appended a) s
    ), stored AS (
        INSERT INTO eventstore.event_hashes
        SELECT * FROM links WHERE global_position > tip.position
        RETURNING global_position, hash
    )
    UPDATE eventstore.chain_tip SET (position, hash) =
        (SELECT global_position, hash FROM stored ORDER BY global_position DESC LIMIT 1);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_are_chained
    AFTER INSERT ON eventstore.events
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.extend_chain();

CREATE TRIGGER hashes_are_append_only
    BEFORE UPDATE OR DELETE ON eventstore.event_hashes
    FOR EACH ROW EXECUTE FUNCTION eventstore.refuse_rewrite();
CREATE TRIGGER hashes_are_never_truncated
    BEFORE TRUNCATE ON eventstore.event_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION eventstore.refuse_rewrite();
