-- The process manager's checkpoint, and a hash chain that makes the log
-- tamper-evident.

CREATE SCHEMA process;

-- How far a process manager has carried out its decisions. Its state is not
-- stored anywhere: it is rebuilt from the log when it starts.
CREATE TABLE process.checkpoints (
    name     text   PRIMARY KEY,
    position bigint NOT NULL CHECK (position >= 0)
);

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

-- Extends the chain over the events at positions first..last, which must
-- follow its tip. An event's digest covers every column an auditor relies
-- on, each variable-length field framed by its length so no two events
-- share an encoding; the Rust verifier (store/src/postgres/chain.rs)
-- computes the same bytes. The digest is written out here rather than in a
-- function of its own: PostgreSQL does not inline a function of a whole
-- row, and calling one per event tripled the chain's cost.
CREATE FUNCTION eventstore.extend_chain_over(first_position bigint, last_position bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    tip eventstore.chain_tip;
    link record;
    positions bigint[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    SELECT * INTO tip FROM eventstore.chain_tip FOR UPDATE;
    FOR link IN
        SELECT e.global_position, sha256(
               int8send(e.global_position)
            || int8send(e.stream_version)
            || int4send(e.schema_version)
            || int8send((extract(epoch FROM e.recorded_at) * 1000000)::bigint)
            || uuid_send(e.event_id)
            || CASE WHEN e.causation_id IS NULL THEN '\x00'::bytea
                    ELSE '\x01'::bytea || uuid_send(e.causation_id) END
            || CASE WHEN e.correlation_id IS NULL THEN '\x00'::bytea
                    ELSE '\x01'::bytea || uuid_send(e.correlation_id) END
            || int4send(octet_length(convert_to(e.stream_id, 'UTF8'))) || convert_to(e.stream_id, 'UTF8')
            || int4send(octet_length(convert_to(e.event_type, 'UTF8'))) || convert_to(e.event_type, 'UTF8')
            || int4send(octet_length(convert_to(e.origin, 'UTF8'))) || convert_to(e.origin, 'UTF8')
            || int4send(octet_length(convert_to(e.actor, 'UTF8'))) || convert_to(e.actor, 'UTF8')
            || int4send(octet_length(e.payload)) || e.payload) AS digest
        FROM eventstore.events e
        WHERE e.global_position BETWEEN first_position AND last_position
        ORDER BY e.global_position
    LOOP
        IF link.global_position <> tip.position + 1 THEN
            RAISE EXCEPTION 'the hash chain ends at position %, but the next event is at %',
                tip.position, link.global_position;
        END IF;
        tip.position := link.global_position;
        tip.hash := sha256(tip.hash || link.digest);
        positions := positions || tip.position;
        hashes := hashes || tip.hash;
    END LOOP;
    INSERT INTO eventstore.event_hashes SELECT * FROM unnest(positions, hashes);
    UPDATE eventstore.chain_tip SET position = tip.position, hash = tip.hash;
END;
$$;

-- Events stored before this migration are chained now, in log order.
SELECT eventstore.extend_chain_over(min(global_position), max(global_position))
FROM eventstore.events HAVING count(*) > 0;

-- Every append extends the chain in the same transaction. Appenders hold
-- the head lock already, so they reach the tip one at a time, in position
-- order. An append of several streams (the store's append_many) computes
-- its events' hashes itself, writes them and moves the tip in the statement
-- that inserts the events, so this finds the tip past them and does
-- nothing; every other insert is chained here.
CREATE FUNCTION eventstore.extend_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM eventstore.extend_chain_over(min(global_position), max(global_position))
    FROM appended
    HAVING count(*) > 0 AND max(global_position) > (SELECT position FROM eventstore.chain_tip);
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
