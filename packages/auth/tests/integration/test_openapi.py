"""Every auth operation is described in the OpenAPI document."""

from __future__ import annotations

OPERATIONS = {
    ("post", "/api/v1/auth/registrations"),
    ("post", "/api/v1/auth/registrations/{challenge_id}/verify"),
    ("post", "/api/v1/auth/challenges/{challenge_id}/resend"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/tokens/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/auth/sessions"),
    ("patch", "/api/v1/auth/sessions/{session_id}"),
    ("delete", "/api/v1/auth/sessions/{session_id}"),
    ("post", "/api/v1/auth/sessions/revoke-others"),
    ("get", "/api/v1/auth/me"),
    ("delete", "/api/v1/auth/me"),
    ("post", "/api/v1/auth/me/password"),
    ("post", "/api/v1/auth/me/reauthenticate"),
    ("post", "/api/v1/auth/me/deactivate"),
    ("post", "/api/v1/auth/me/email"),
    ("post", "/api/v1/auth/me/email/{challenge_id}/verify"),
    ("post", "/api/v1/auth/me/phone"),
    ("post", "/api/v1/auth/me/phone/{challenge_id}/verify"),
    ("post", "/api/v1/auth/password-resets"),
    ("post", "/api/v1/auth/password-resets/{challenge_id}/complete"),
    ("put", "/api/v1/auth/admin/accounts/{account_id}/roles"),
    ("post", "/api/v1/auth/admin/accounts/{account_id}/suspend"),
    ("post", "/api/v1/auth/admin/accounts/{account_id}/unsuspend"),
    ("post", "/api/v1/auth/me/reauthenticate/challenges"),
    ("post", "/api/v1/auth/me/verifications"),
    ("post", "/api/v1/auth/me/verifications/{challenge_id}/verify"),
    ("post", "/api/v1/auth/oauth/{provider}/nonces"),
    ("post", "/api/v1/auth/oauth/{provider}/sign-in"),
    ("get", "/api/v1/auth/me/identities"),
    ("post", "/api/v1/auth/me/identities"),
    ("post", "/api/v1/auth/me/identities/link"),
    ("delete", "/api/v1/auth/me/identities/{identity_id}"),
    ("get", "/.well-known/jwks.json"),
}


async def test_openapi_lists_every_auth_operation(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    listed = {(method, path) for path, item in document["paths"].items() for method in item}
    assert listed >= OPERATIONS, sorted(OPERATIONS - listed)
    listed_auth = {op for op in listed if op[1].startswith("/api/v1/auth")}
    assert listed_auth == {op for op in OPERATIONS if op[1].startswith("/api/v1/auth")}
