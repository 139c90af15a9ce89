-- The last snapshot of each write-side follower's state (the process
-- manager, the publishing scheduler): its state after folding the log up
-- to `position`, so a restart folds only what came after. A snapshot is a
-- cache of a fold of the log, never a source of truth: one of another
-- `shape` than the running build's, or folded from another starting state
-- (`setup`: the empty state, encoded, which holds the follower's settings),
-- is discarded and the state rebuilt from the log; `audit verify` compares
-- each with a fold from 0.
CREATE TABLE process.snapshots (
    name     text        PRIMARY KEY,
    shape    integer     NOT NULL,
    setup    bytea       NOT NULL,
    position bigint      NOT NULL CHECK (position >= 0),
    state    bytea       NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now()
);
