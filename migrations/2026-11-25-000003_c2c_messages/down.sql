DROP TABLE c2c_read_state;
DROP TABLE c2c_messages;
