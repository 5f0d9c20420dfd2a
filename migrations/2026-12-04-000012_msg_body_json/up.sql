-- Message bodies are kept as `json`, the exact text received: Tencent's message elements may
-- carry binary data with NUL characters ("Data": "abc\u0000\u0001"), which `jsonb` refuses.
ALTER TABLE c2c_messages ALTER COLUMN msg_body TYPE json USING msg_body::json;
ALTER TABLE group_messages ALTER COLUMN msg_body TYPE json USING msg_body::json;
