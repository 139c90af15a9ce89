-- Accounts the network reports as deactivated, taken down or deleted are
-- hidden from reads, with their events and RSVPs; reactivation shows them
-- again.
ALTER TABLE read.users ADD COLUMN account_status text NOT NULL DEFAULT 'active';

-- Reads find the owner of an imported occurrence through the DID in its
-- AT-URI.
CREATE INDEX occurrences_by_repository ON read.occurrences (split_part(external_id, '/', 3))
    WHERE origin = 'bluesky';
CREATE INDEX attendees_by_user ON read.attendees (user_id);

-- OpenMeet API sessions. Not events: a session is a secret, and the log
-- keeps none. Only a SHA-256 of the token is stored: the token is 256
-- random bits, so a fast hash is enough and a database leak yields nothing
-- that authenticates.
CREATE SCHEMA auth;
CREATE TABLE auth.sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL,
    did        text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_expiry ON auth.sessions (expires_at);
