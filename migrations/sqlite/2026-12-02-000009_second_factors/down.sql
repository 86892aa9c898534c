ALTER TABLE events DROP COLUMN detail;
DROP TABLE pending_logins;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
