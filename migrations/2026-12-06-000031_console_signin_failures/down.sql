DROP TABLE console_signin_failures;
