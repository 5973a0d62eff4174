"""The import rules of ARCHITECTURE.md (sections 2 and 3) hold, and would catch a breach.

The rules live in ``.importlinter`` at the repository root; ``uv run lint-imports`` checks
them by hand. Here we run the same command, check that every installed context is listed
in the places the config asks for, and break each rule in a scratch copy of the sources to
prove the config really bites (a wildcard that matches nothing would otherwise pass).
"""

from __future__ import annotations

import configparser
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nexgate
from nexgate.kernel.contexts import available_contexts

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
NOT_CONTEXTS = {"nexgate.contracts", "nexgate.kernel", "nexgate.api", "nexgate.worker"}


def lint_imports(cwd: Path, *args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(  # noqa: S603 (the venv's own lint-imports)
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def read_config(path: Path = CONFIG) -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(path)
    return config


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.strip().splitlines() if line.strip()]


def test_the_import_rules_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
    assert "0 broken" in result.stdout


def test_every_package_and_context_is_under_the_rules() -> None:
    """A context missing from .importlinter would escape every rule without a failure."""
    config = read_config()
    roots = lines(config["importlinter"]["root_packages"])
    installed = sorted(f"nexgate.{m.name}" for m in pkgutil.iter_modules(nexgate.__path__))
    unlisted = sorted(set(installed) - set(roots))
    assert not unlisted, f"add {unlisted} to [importlinter] root_packages (see the header of .importlinter)"

    # Every nexgate.* package but these is a context, whether or not it has its entry point yet.
    contexts = sorted(m.removeprefix("nexgate.") for m in installed if m not in NOT_CONTEXTS)
    assert set(available_contexts()) <= set(contexts)
    assert "skeleton" in contexts
    platform_rows = [
        set(row.replace("|", ":").replace(" ", "").split(":"))
        for row in lines(config["importlinter:platform"]["layers"])
    ]
    containers = lines(config["importlinter:context-layers"]["containers"])
    independent = lines(config["importlinter:contexts-independent"]["modules"])
    for name in contexts:
        module = f"nexgate.{name}"
        assert module in roots, f"add {module} to [importlinter] root_packages"
        assert module in containers, f"add {module} to [importlinter:context-layers] containers"
        assert module in independent, f"add {module} to [importlinter:contexts-independent] modules"
        rows = [row for row in platform_rows if module in row]
        assert rows, f"add {module} to the contexts row of [importlinter:platform] layers"
    # Every context shares one row of the platform layers (none may sit above another).
    context_rows = {frozenset(row) for row in platform_rows if row & {f"nexgate.{n}" for n in contexts}}
    assert len(context_rows) == 1, "all contexts belong in one ' : ' row of [importlinter:platform]"


# --- The rules bite ------------------------------------------------------------------------------

CANARY = "canary"  # a second context, copied from the skeleton, for the cross-context rules


def scratch_copy(root: Path, *, with_canary: bool) -> Path:
    """Copy every nexgate.* package into root/src/nexgate (and the config into root)."""
    target = root / "src" / "nexgate"
    for portion in nexgate.__path__:
        for package in Path(portion).iterdir():
            if package.is_dir() and package.name != "__pycache__":
                shutil.copytree(package, target / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    config = read_config()
    if with_canary:
        skeleton = target / "skeleton"
        shutil.copytree(skeleton, target / CANARY)
        for source in (target / CANARY).rglob("*.py"):
            source.write_text(source.read_text().replace("nexgate.skeleton", f"nexgate.{CANARY}"))
        add_context(config, CANARY, like="skeleton")
    with (root / ".importlinter").open("w") as out:
        config.write(out)
    return target


def add_context(config: configparser.ConfigParser, name: str, *, like: str) -> None:
    """List context `name` wherever context `like` is listed, as the config's header explains."""
    new, old = f"nexgate.{name}", f"nexgate.{like}"
    for section in config.sections():
        for option, value in config[section].items():
            rows = lines(value)
            if old not in " ".join(rows):
                continue
            if section == "importlinter:platform" and option == "layers":
                rows = [f"{row} : {new}" if old in row.replace(" ", "").split(":") else row for row in rows]
            else:
                rows = [*rows, new]
            config[section][option] = "\n" + "\n".join(rows)


BREACHES = {
    # contract id: (file under src/nexgate, line appended to it)
    "platform": ("kernel/money.py", "import nexgate.skeleton.api"),
    "contracts-stand-alone": ("contracts/skeleton.py", "from nexgate.kernel import ids"),
    "testing-is-test-only": (
        "skeleton/adapters/sql/repository.py",
        "from nexgate.kernel.testing import services",
    ),
    "context-layers": ("skeleton/application/notes.py", "from nexgate.skeleton.adapters.sql import models"),
    "domain-is-pure": ("skeleton/domain/notes.py", "import sqlalchemy"),
    "domain-no-wire-format": ("skeleton/domain/notes.py", "import msgspec"),
    "contexts-independent": (f"{CANARY}/application/notes.py", "from nexgate.skeleton import api"),
}


@pytest.mark.parametrize("contract", sorted(BREACHES))
def test_each_rule_catches_a_breach(contract: str, tmp_path: Path) -> None:
    assert f"importlinter:{contract}" in read_config(), f"no contract {contract} in .importlinter"
    src = scratch_copy(tmp_path, with_canary=True)
    clean = lint_imports(tmp_path, "--contract", contract, pythonpath=src.parent)
    assert clean.returncode == 0, (
        f"the scratch copy should pass before the breach:\n{clean.stdout}{clean.stderr}"
    )

    path, line = BREACHES[contract]
    with (src / path).open("a") as module:
        module.write(f"\n{line}\n")
    broken = lint_imports(tmp_path, "--contract", contract, pythonpath=src.parent)
    assert broken.returncode == 1, f"{contract} missed `{line}` in {path}:\n{broken.stdout}{broken.stderr}"
    assert "BROKEN" in broken.stdout


@pytest.mark.parametrize(
    ("path", "line"),
    [
        # Another context's facade, from an adapter: the one way across contexts.
        (f"{CANARY}/adapters/http/plugin.py", "from nexgate.skeleton import api"),
        # Settings are read at the edge.
        ("skeleton/adapters/http/plugin.py", "from nexgate.skeleton.settings import SkeletonSettings"),
        # Kernel value types may be built on msgspec.
        ("skeleton/domain/notes.py", "from nexgate.kernel.money import Money"),
    ],
)
def test_allowed_imports_stay_allowed(path: str, line: str, tmp_path: Path) -> None:
    src = scratch_copy(tmp_path, with_canary=True)
    with (src / path).open("a") as module:
        module.write(f"\n{line}\n")
    result = lint_imports(tmp_path, pythonpath=src.parent)
    assert result.returncode == 0, f"`{line}` in {path} should be allowed:\n{result.stdout}{result.stderr}"
