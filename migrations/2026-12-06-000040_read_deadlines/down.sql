DROP TABLE read_deadlines;
