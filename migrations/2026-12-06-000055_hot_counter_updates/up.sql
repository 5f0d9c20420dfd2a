-- Receipts update a message row's counters (group) or read times (C2C) once per reader. None
-- of those columns is indexed, so the update can be HOT (no new index entries) whenever the
-- row's page has room for the new version; at the default fillfactor of 100 a freshly filled
-- page has none, and half of the bench's counter updates inserted into every index of the
-- table (4 for group messages, 6 for C2C). Space kept free on each page keeps them HOT (and
-- page pruning keeps reclaiming it). Applies to pages written from now on.
ALTER TABLE group_messages SET (fillfactor = 70);
ALTER TABLE c2c_messages SET (fillfactor = 70);
