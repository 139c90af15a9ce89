-- An organizer's answer to a proposal: accepted (with the series made
-- from it) or rejected.
ALTER TABLE read.series_proposals
    ADD COLUMN status text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'accepted', 'rejected')),
    ADD COLUMN series_id uuid;
