DROP TABLE receipt_config;
