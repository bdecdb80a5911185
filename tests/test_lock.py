"""The lock is the install: what runs the suite is exactly requirements.lock, and the lock satisfies pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
# What a venv holds besides the locked packages: the installer that ships with Python, and the project itself.
NOT_LOCKED = {"pip", "loopline"}


def _locked() -> dict[str, Requirement]:
    """Each pin of the lock whose marker applies here, by canonical name (hash lines and comments skipped)."""
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text(encoding="utf-8"))
    pins: dict[str, Requirement] = {}
    for line in text.splitlines():
        pin = line.split(" --hash", 1)[0].strip()
        if not pin or pin.startswith("#"):
            continue
        requirement = Requirement(pin)
        if requirement.marker is None or requirement.marker.evaluate():
            pins[canonicalize_name(requirement.name)] = requirement
    return pins


def _version(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement} is not pinned with =="
    return spec.version


def test_every_pin_has_hashes() -> None:
    blocks = re.split(r"\n(?=[a-z0-9])", LOCK.read_text(encoding="utf-8"))
    unhashed = [block.split()[0] for block in blocks if "==" in block.split("\n")[0] and "--hash=sha256:" not in block]
    assert not unhashed, f"pins without hashes: {unhashed}"


def test_the_environment_is_exactly_the_lock() -> None:
    locked = _locked()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wanted = {name: _version(pin) for name, pin in locked.items()}
    wrong = {name: (installed.get(name), version) for name, version in wanted.items() if installed.get(name) != version}
    extra = sorted(set(installed) - set(locked) - NOT_LOCKED)
    assert not wrong, f"installed vs locked (recreate the venv: `make clean`, then `make test`): {wrong}"
    assert not extra, f"installed but not in the lock: {extra}"


def test_the_lock_satisfies_every_range_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    locked = _locked()
    problems = []
    for requirement in wanted:
        pin = locked.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(_version(pin), prereleases=True):
            problems.append(f"{requirement} but the lock has {_version(pin)}")
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_project_builds_without_setuptools_warnings() -> None:
    """What `make` prints while installing the project: no deprecation from setuptools (the licence as a table was
    one, until 2027 when such builds stop)."""
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    root = Path(__file__).resolve().parents[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), str(root / "pyproject.toml"))
    assert dist.get_name() == "loopline"
