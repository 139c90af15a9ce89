-- A projection that stops on one event says so here, so that /health of any
-- process (not only the one running the projection) reports it degraded,
-- with the position and the reason, until the projection moves past it.
CREATE TABLE projections.failures (
    projection text PRIMARY KEY,
    position bigint NOT NULL,
    event_type text NOT NULL,
    stream text NOT NULL,
    reason text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
