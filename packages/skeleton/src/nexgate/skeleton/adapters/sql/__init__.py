"""PostgreSQL adapters of the skeleton context (schema ``skeleton``)."""
