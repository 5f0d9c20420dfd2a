DROP TRIGGER user_events_notify ON user_events;
DROP FUNCTION user_events_notify();
