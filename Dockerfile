# syntax=docker/dockerfile:1
#
# One image for every Nexgate process: `nexgate serve` (api, default), `nexgate worker`,
# `nexgate migrate`. Build: `docker build -t nexgate .`  (compose.yaml does this for you).

# ---------------------------------------------------------------------------------------------
# Builder: resolve nothing, install exactly what uv.lock says into /app/.venv.
# ---------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS builder

COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

# Compile bytecode at build time (faster cold start); copy instead of hard-linking because the
# uv cache is a separate mount; use the image's CPython 3.11, never a downloaded one; put the
# venv where the runtime stage expects it.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

COPY pyproject.toml uv.lock .python-version ./
COPY contracts ./contracts
COPY packages ./packages
COPY apps ./apps

# --locked: fail if uv.lock is stale rather than resolve anew inside the image.
# --no-editable: workspace members are installed as real wheels, so the venv works on its own
# once copied into the runtime stage (editable installs would point back at /app/<member>/src).
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --all-packages --no-editable

# ---------------------------------------------------------------------------------------------
# Runtime: CPython + ffmpeg + the venv, nothing else. No uv, no sources, no compilers.
# ---------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

# ffmpeg/ffprobe: media processing (thumbnails, transcoding, probing) in the worker.
# Not version-pinned: bookworm security updates replace the exact version, which would break
# the build; the base image tag already fixes the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 nexgate \
    && useradd --system --uid 10001 --gid nexgate --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin nexgate

ENV VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app

# The venv stays root-owned (read-only for the app user).
COPY --from=builder /app/.venv /app/.venv

# var/ holds the JWT signing key and the filesystem blob store (settings default to the relative
# path "var", so the working directory matters). It must be writable by the app user; a named
# volume mounted here starts with this directory's ownership.
RUN mkdir -p /app/var && chown nexgate:nexgate /app/var

# Numeric (= nexgate) so runtimes can verify non-root without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

CMD ["nexgate", "serve", "--host", "0.0.0.0", "--port", "8000"]
