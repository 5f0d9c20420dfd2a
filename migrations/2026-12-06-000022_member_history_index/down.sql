DROP INDEX group_members_history;
