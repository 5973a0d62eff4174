"""Pure domain of the auth context: accounts, one-time-code challenges, device sessions."""
