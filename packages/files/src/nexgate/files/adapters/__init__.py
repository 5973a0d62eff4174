"""Adapters of the files context: HTTP, SQL, messaging, object storage and media tools."""
