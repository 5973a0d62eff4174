"""The AsyncAPI documents checked in under contracts/asyncapi/ are what the worker describes.

`just docs` writes them with ``faststream docs gen``; this test runs the same command and
compares the parsed JSON, so a change to a contract, a consumer or the topology fails here
until the snapshot is regenerated and reviewed.

- ``nexgate.json``: the production document (``NEXGATE_CONTEXTS=all``). The skeleton is not
  a default context, so until the first real context lands it has no channels.
- ``skeleton.json``: the template context alone, so the comparison checks real channels today.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO / "contracts" / "asyncapi"
FASTSTREAM = Path(sys.executable).parent / "faststream"
FACTORY = "nexgate.worker.app:create_app"

#: Snapshot file -> NEXGATE_CONTEXTS used to generate it.
DOCUMENTS = {"nexgate.json": "all", "skeleton.json": "skeleton"}

#: Fixed settings, so names are the production names and the servers section is stable.
FIXED_ENV = {
    "NEXGATE_MESSAGING_NAMESPACE": "",
    "NEXGATE_RABBITMQ_URL": "amqp://guest:guest@localhost:5672/",
}


def command(contexts: str, out: Path) -> tuple[list[str], dict[str, str]]:
    # Settings from the test session (NEXGATE_* set by fixtures or the shell) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXGATE_")}
    env.update(FIXED_ENV, NEXGATE_CONTEXTS=contexts)
    return [str(FASTSTREAM), "docs", "gen", "--factory", FACTORY, "--out", str(out)], env


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every document generated now, plus the skeleton a second time (determinism)."""
    out = tmp_path_factory.mktemp("asyncapi")
    runs = {**{name: contexts for name, contexts in DOCUMENTS.items()}, "skeleton.again.json": "skeleton"}
    processes = {}
    for name, contexts in runs.items():  # in parallel: each run imports the whole platform
        argv, env = command(contexts, out / name)
        processes[name] = subprocess.Popen(  # noqa: S603 (the venv's own faststream)
            argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    for name, process in processes.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"faststream docs gen failed for {name}:\n{output}"
    return {name: out / name for name in runs}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def pretty(document: Any) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True).splitlines()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_checked_in_document_is_up_to_date(name: str, generated: dict[str, Path]) -> None:
    committed_path = SNAPSHOTS / name
    assert committed_path.exists(), f"{committed_path.relative_to(REPO)} is missing: run `just docs`"
    committed, current = load(committed_path), load(generated[name])
    if committed != current:
        diff = difflib.unified_diff(
            pretty(committed), pretty(current), "checked in", "generated", lineterm=""
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            f"contracts/asyncapi/{name} is stale: run `just docs` and review the change "
            f"(NEXGATE_CONTEXTS={DOCUMENTS[name]} faststream docs gen --factory {FACTORY}).\n{shown}"
        )


def test_generation_is_deterministic(generated: dict[str, Path]) -> None:
    assert generated["skeleton.json"].read_bytes() == generated["skeleton.again.json"].read_bytes()


def test_the_skeleton_document_describes_its_messages() -> None:
    """The template snapshot is not empty: it sends and receives skeleton.note_created.v1."""
    document = load(SNAPSHOTS / "skeleton.json")
    actions = {
        (op["action"], document["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"])
        for op in document["operations"].values()
    }
    assert ("send", "skeleton.note_created.v1") in actions
    assert ("receive", "skeleton.note_created.v1") in actions
    assert document["servers"]["development"]["host"] == "localhost:5672"
