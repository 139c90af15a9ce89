-- Series proposed by detection (the process manager's SeriesProposed): the
-- latest version of each proposal, for organizers to accept or reject.
CREATE TABLE read.series_proposals (
    id            uuid             PRIMARY KEY,
    version       integer          NOT NULL CHECK (version >= 1),
    organizer     text             NOT NULL,
    uris          jsonb            NOT NULL,
    rrule         text             NOT NULL,
    confidence    double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    explanation   jsonb            NOT NULL,
    last_position bigint           NOT NULL
);
CREATE INDEX series_proposals_by_organizer ON read.series_proposals (organizer, confidence DESC);
