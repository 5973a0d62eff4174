"""PostgreSQL adapters of the files context (schema ``files``)."""
