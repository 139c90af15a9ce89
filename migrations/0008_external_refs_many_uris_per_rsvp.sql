-- A guest may answer one event from two RSVP records (two record keys).
-- The write side links both URIs to the one attendance (an
-- ExternalRefLinked stream per URI), so the read model is unique by URI
-- only: one attendance may have several URIs. A constraint that said
-- otherwise stopped the projection on such a guest.
ALTER TABLE read.external_refs DROP CONSTRAINT external_refs_kind_local_id_key;
CREATE INDEX external_refs_local ON read.external_refs (kind, local_id);
