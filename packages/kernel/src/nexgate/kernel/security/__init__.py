"""Access-token security shared by every context: principal, keys, tokens, session revocation.

The auth context issues tokens with `tokens.TokenSigner`; every context verifies them
locally with `tokens.TokenVerifier` against a `keys.KeySource` (local key file in
all-in-one mode, the auth context's JWKS in split mode).
"""
