"""PostgreSQL adapters of the auth context (schema ``auth``)."""
