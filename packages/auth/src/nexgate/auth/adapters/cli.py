"""``nexgate auth ...`` commands."""

from __future__ import annotations

import click

from nexgate.kernel.security.keys import rotate_signing_key
from nexgate.kernel.security.tokens import ACCESS_TOKEN_TTL
from nexgate.kernel.settings import platform_settings

#: Retired keys stay published well past one token lifetime and the JWKS cache (300 s).
KEEP_RETIRED_S = 4 * int(ACCESS_TOKEN_TTL.total_seconds())


@click.group()
def auth() -> None:
    """The auth context: accounts, sessions and signing keys."""


@auth.command("rotate-signing-key")
@click.option("--keep-retired-s", default=KEEP_RETIRED_S, show_default=True, type=int)
def rotate(keep_retired_s: int) -> None:
    """Start signing with a new key; the old one keeps verifying. Restart the api processes after."""
    if keep_retired_s < int(ACCESS_TOKEN_TTL.total_seconds()):
        raise click.BadParameter("retired keys must stay at least one access-token lifetime (900 s)")
    key = rotate_signing_key(platform_settings().signing_key_file, keep_s=keep_retired_s)
    click.echo(f"signing key rotated: new kid {key.kid}")
