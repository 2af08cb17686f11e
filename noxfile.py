"""The test matrix: every supported Python, the newest and the lowest dependencies, the built wheel.

Sessions (``nox -l``; ``make matrix`` runs ``dist``, then the others two at a time):

- ``dist``: build the sdist and the wheel into ``dist/`` with ``python -m build`` and
  check their metadata with ``twine check --strict``. Every other session needs it (run
  it first: ``nox`` alone runs the sessions in this order) and runs
  ``tests/test_packaging.py`` (the artifacts' contents) against these files.
- ``newest-3.10`` ... ``newest-3.13``: the newest dependencies pip resolves today.
- ``lowest-3.10``, ``lowest-3.13``: exactly the lowest declared version of every runtime
  dependency (and of the ``testing`` extra), pinned from the lower bounds in
  ``pyproject.toml`` at run time, so the bounds and the pins cannot drift.

Every suite session tests what is shipped: it installs the wheel from ``dist/`` into a
fresh virtualenv (uv's, installing from PyPI), unpacks the sdist into a temporary directory,
deletes the package directory from that copy, and runs the sdist's whole suite there (the
installed package's doctests included) with pytest-xdist, one worker per CPU. The checkout's
``sigv4_imagebuilder/`` is never importable; the session checks that the package imported is
the installed one.

The Python versions are the ``Programming Language :: Python :: 3.X`` classifiers of
``pyproject.toml``; the interpreters come from pyenv's ``versions/`` (or ``PATH``), never
from a download (``download_python``, ``UV_PYTHON_DOWNLOADS``). A missing interpreter fails
the run: it never passes by skipping.

Python 3.14 is current, but no 3.14 interpreter can be installed on the machines that run
this matrix, so there is no 3.14 leg and no 3.14 classifier: the classifier comes with a leg
that tests it. 3.10 stays while botocore supports it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nox
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself runs on the .venv's Python
    import tomli as tomllib

# `download_python` (2025.10.14).
nox.needs_version = ">=2025.10.14"
nox.options.error_on_missing_interpreters = True
# Interpreters come from this machine (pyenv), never from a download.
nox.options.download_python = "never"
os.environ["UV_PYTHON_DOWNLOADS"] = "never"
# Compile on install as pip does: old releases' SyntaxWarnings (jmespath 0.7.1's `x is 0`)
# are then raised at install time, not turned into errors by filterwarnings=error at import.
os.environ["UV_COMPILE_BYTECODE"] = "1"
# uv from .venv (the `uv` package) makes the virtualenvs and installs: seconds, not pip's 18.
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "no"

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = "sigv4_imagebuilder"

_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")
PYTHONS = sorted(
    (m.group(1) for c in PYPROJECT["project"]["classifiers"] if (m := _CLASSIFIER.match(c))),
    key=lambda v: tuple(map(int, v.split("."))),
)
# The lowest dependencies on the oldest and the newest supported Python: the
# old releases must import and work on both ends.
LOWEST_PYTHONS = [PYTHONS[0], PYTHONS[-1]]


def _pyenv_root() -> Path | None:
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        out = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    fallback = Path.home() / ".pyenv"
    return fallback if fallback.is_dir() else None


def _put_pyenv_pythons_on_path() -> None:
    # pyenv's shims only answer for the versions made active with `pyenv global`,
    # so put each installed version's own bin/ first: nox then finds python3.X.
    root = _pyenv_root()
    if root is None:
        return
    found = []
    for wanted in PYTHONS:
        candidates = [
            d
            for d in (root / "versions").glob(f"{wanted}.*")
            if re.fullmatch(rf"{re.escape(wanted)}\.\d+", d.name)
            and (d / "bin" / f"python{wanted}").exists()
        ]
        if candidates:
            newest = max(candidates, key=lambda d: int(d.name.rsplit(".", 1)[1]))
            found.append(str(newest / "bin"))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_put_pyenv_pythons_on_path()


def lowest_pins(python: str) -> list[str]:
    """``name==X`` for each runtime dependency's lower bound ``>=X`` on that Python.

    Reads ``[project].dependencies`` and the ``testing`` extra. A dependency with no
    lower bound is an error: the lowest leg could not say what it tested.
    """
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["testing"]]
    environment = {"python_version": python, "python_full_version": f"{python}.0"}
    pins = []
    for text in declared:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(environment):
            continue
        lower = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if len(lower) != 1:
            raise SystemExit(f"noxfile: {text!r} needs exactly one lower bound (>=X) in pyproject")
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        pins.append(f"{req.name}{extras}=={lower[0]}")
    return pins


def _dists(session: nox.Session) -> tuple[Path, Path]:
    wheels = sorted(DIST.glob(f"{PACKAGE}-*.whl"))
    sdists = sorted(DIST.glob(f"{PACKAGE}-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        session.error(f"expected one wheel and one sdist in {DIST}; run `nox -s dist` first")
    return wheels[0], sdists[0]


# Run by the session's Python before the suite: the package imported is the
# installed wheel, not a checkout, and each pinned dependency is the pinned version.
_CHECK_INSTALLED = """
import importlib.metadata, pathlib, sys, sysconfig
from packaging.version import Version
import sigv4_imagebuilder
where = pathlib.Path(sigv4_imagebuilder.__file__).resolve()
site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
assert site in where.parents, f"imported {where}, not from {site}"
for pin in sys.argv[1:]:
    name, _, version = pin.partition("==")
    name = name.split("[")[0]
    got = importlib.metadata.version(name)
    assert Version(got) == Version(version), f"{name} {got} installed, {version} pinned"
    print(f"{name} {got} (pinned {version})")
print(where.parent)
"""


def _run_suite_against_wheel(
    session: nox.Session, pins: list[str], extra: list[str] | None = None
) -> None:
    wheel, sdist = _dists(session)
    session.install(f"{wheel}[test]", *pins, *(extra or []))
    session.run("uv", "pip", "list")

    # The suite as the sdist ships it, with the sdist's copy of the package removed.
    tmp = Path(session.create_tmp()).resolve() / "sdist"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp, filter="data")
    (source,) = tmp.iterdir()
    shutil.rmtree(source / PACKAGE)

    session.chdir(source)
    installed = str(session.run("python", "-c", _CHECK_INSTALLED, *pins, silent=True))
    *versions, package_dir = installed.strip().splitlines()
    for line in versions:
        session.log(line)
    session.log(f"testing {PACKAGE} installed at {package_dir}")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-rs",  # every skip says why in the log
        "-p",
        "no:cacheprovider",
        "-n",
        "auto",
        "--rootdir",
        str(source),
        "-c",
        str(source / "pyproject.toml"),
        "tests",
        package_dir,  # the installed modules' doctests
        *session.posargs,
        env={"SIB_DIST_DIR": str(DIST), "SIB_EXPECT_INSTALLED": "1"},
    )


@nox.session
def dist(session: nox.Session) -> None:
    """Build the sdist and the wheel into dist/ and check their metadata.

    Their contents are checked by tests/test_packaging.py, which every suite session
    runs against these same files.
    """
    shutil.rmtree(DIST, ignore_errors=True)
    session.install("build[uv]", "twine")
    session.run(
        "python", "-m", "build", "--installer", "uv", "--outdir", str(DIST), str(ROOT), silent=True
    )
    wheel, sdist = _dists(session)
    session.run("twine", "check", "--strict", str(wheel), str(sdist))


# No requires=["dist"]: make runs legs side by side, and each would rebuild dist/ under
# the others. A leg without dist/ fails, naming `nox -s dist`.
@nox.session(python=PYTHONS)
def newest(session: nox.Session) -> None:
    """The whole suite against the installed wheel, with the newest dependencies.

    pytest-httpx joins here (and in ``make test``): each of its releases pins one httpx
    minor, so it is no part of the test extra the lowest legs install.
    """
    _run_suite_against_wheel(session, pins=[], extra=["pytest-httpx"])


@nox.session(python=LOWEST_PYTHONS)
def lowest(session: nox.Session) -> None:
    """The whole suite against the installed wheel, with the lowest declared dependencies."""
    pins = lowest_pins(str(session.python))
    session.log("lowest declared versions: " + " ".join(pins))
    _run_suite_against_wheel(session, pins)
