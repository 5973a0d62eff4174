"""Redis adapters of the auth context: login lockout and session revocation."""
