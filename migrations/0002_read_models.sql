-- Read models, one projection each, in the `read` schema. Rebuilds build a
-- copy in a side schema (CREATE TABLE ... (LIKE read.x INCLUDING ALL)) and
-- swap it in, so nothing here may reference another projection's tables.
CREATE SCHEMA read;
CREATE SCHEMA projections;

-- Where each projection stands in the global log. Its row moves in the same
-- transaction as the projection's rows.
CREATE TABLE projections.checkpoints (
    projection text   PRIMARY KEY,
    position   bigint NOT NULL CHECK (position >= 0)
);

CREATE TABLE read.series (
    id              uuid        PRIMARY KEY,
    slug            text        NOT NULL UNIQUE,
    name            text        NOT NULL,
    description     text,
    starts_at       timestamptz,
    ends_at         timestamptz,
    time_zone       text        NOT NULL,
    rrule           text        NOT NULL,
    exdates         jsonb       NOT NULL,
    rdates          jsonb       NOT NULL,
    origin          text        NOT NULL,
    external_id     text,
    external_cid    text,
    external_source text,
    external_data   jsonb,
    is_read_only    boolean     NOT NULL,
    details         jsonb       NOT NULL,
    last_position   bigint      NOT NULL
);

CREATE TABLE read.occurrences (
    id              uuid        PRIMARY KEY,
    slug            text        NOT NULL UNIQUE,
    series_id       uuid,
    name            text        NOT NULL,
    description     text,
    starts_at       timestamptz,
    ends_at         timestamptz,
    time_zone       text,
    mode            text,
    status          text,
    state           text        NOT NULL CHECK (state IN ('active', 'cancelled', 'deleted', 'unreadable')),
    places          jsonb       NOT NULL,
    links           jsonb       NOT NULL,
    rsvp_expected   boolean,
    origin          text        NOT NULL,
    external_id     text        UNIQUE,
    external_cid    text,
    external_source text,
    external_data   jsonb,
    is_read_only    boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    last_position   bigint      NOT NULL
);
CREATE INDEX occurrences_by_start ON read.occurrences (starts_at, id);
CREATE INDEX occurrences_by_series ON read.occurrences (series_id, starts_at);

CREATE TABLE read.attendees (
    occurrence_id uuid        NOT NULL,
    user_id       uuid        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('attending', 'interested', 'declined')),
    origin        text        NOT NULL,
    changed_at    timestamptz NOT NULL,
    rsvp_uri      text,
    rsvp_cid      text,
    last_position bigint      NOT NULL,
    -- A user never appears twice for one occurrence.
    PRIMARY KEY (occurrence_id, user_id)
);

CREATE TABLE read.users (
    id                   uuid    PRIMARY KEY,
    bluesky_did          text    NOT NULL UNIQUE,
    bluesky_handle       text,
    bluesky_token_expiry timestamptz,
    display_name         text,
    is_shadow_account    boolean NOT NULL,
    last_position        bigint  NOT NULL
);

-- The bidirectional mapping local id <-> AT-URI, unique on both sides.
CREATE TABLE read.external_refs (
    uri           text   PRIMARY KEY,
    kind          text   NOT NULL CHECK (kind IN ('series', 'occurrence', 'rsvp')),
    local_id      uuid   NOT NULL,
    cid           text,
    last_position bigint NOT NULL,
    UNIQUE (kind, local_id)
);
