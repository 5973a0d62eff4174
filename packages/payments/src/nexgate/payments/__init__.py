"""Nexgate payments context: double-entry ledger, mobile-money collection and payouts, escrow,
wallet, refunds."""
