ALTER TABLE group_messages RESET (fillfactor);
ALTER TABLE c2c_messages RESET (fillfactor);
