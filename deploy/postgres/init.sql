-- Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
-- The core database "nexgate" is created by POSTGRES_DB; this adds the notifications one,
-- which production keeps on a separate server (ARCHITECTURE.md section 6).
CREATE DATABASE nexgate_notifications;
