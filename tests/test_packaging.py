"""What is shipped: the wheel's and the sdist's contents and metadata.

The matrix (noxfile.py) sets ``SIB_DIST_DIR`` to the artifacts it installs and tests, so
these checks read exactly those files. Without it (``make test``), both are built from
the checkout first.
"""

from __future__ import annotations

import email.message
import email.parser
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT
from packaging.requirements import Requirement

import sigv4_imagebuilder

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 legs of the matrix
    import tomli as tomllib

PACKAGE = "sigv4_imagebuilder"
VERSION = sigv4_imagebuilder.__version__
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PYTHON_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (3\.\d+)$")


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SIB_DIST_DIR")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    # No isolation: the .venv already has setuptools (the dev extra), and the
    # matrix's dist session builds with isolation, as a user's pip does.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@pytest.fixture(scope="module")
def wheel(dist_dir: Path) -> zipfile.ZipFile:
    (path,) = dist_dir.glob(f"{PACKAGE}-{VERSION}-py3-none-any.whl")
    return zipfile.ZipFile(path)


@pytest.fixture(scope="module")
def sdist(dist_dir: Path) -> dict[str, bytes]:
    """The sdist's regular files, by path below its top directory."""
    (path,) = dist_dir.glob(f"{PACKAGE}-{VERSION}.tar.gz")
    files = {}
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            top, _, name = member.name.partition("/")
            assert top == f"{PACKAGE}-{VERSION}", member.name
            if member.isfile():
                extracted = archive.extractfile(member)
                assert extracted is not None
                files[name] = extracted.read()
    return files


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    raw = wheel.read(f"{PACKAGE}-{VERSION}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(raw)


def test_the_wheel_holds_the_package_and_py_typed_and_nothing_else(
    wheel: zipfile.ZipFile, sdist: dict[str, bytes]
) -> None:
    names = wheel.namelist()
    assert {n.split("/")[0] for n in names} == {PACKAGE, f"{PACKAGE}-{VERSION}.dist-info"}
    assert f"{PACKAGE}/py.typed" in names
    # Every module of the source tree, as the sdist carries it, is in the wheel.
    source = {n for n in sdist if n.startswith(f"{PACKAGE}/") and n.endswith(".py")}
    assert {n for n in names if n.endswith(".py")} == source
    assert len(source) > 10
    for name in names:
        assert not re.search(r"(^|/)(tests?|fixtures|benchmarks)/", name), name
        assert not name.endswith((".json", ".pyc")) and "__pycache__" not in name, name
    assert f"{PACKAGE}-{VERSION}.dist-info/licenses/LICENSE" in names


def test_the_wheel_metadata_is_the_projects(
    metadata: email.message.Message, sdist: dict[str, bytes]
) -> None:
    assert metadata["Name"] == "sigv4-imagebuilder"
    assert metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == PROJECT["requires-python"]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == sdist["README.md"].decode().strip()
    assert "sigv4" in metadata["Keywords"].split(",")
    runtime = {
        str(Requirement(r)) for r in metadata.get_all("Requires-Dist", []) if "extra ==" not in r
    }
    assert runtime == {str(Requirement(d)) for d in PROJECT["dependencies"]}
    assert set(metadata.get_all("Provides-Extra", [])) == set(PROJECT["optional-dependencies"])
    testing = {
        str(Requirement(r.split(";")[0]))
        for r in metadata.get_all("Requires-Dist", [])
        if 'extra == "testing"' in r
    }
    assert testing == {str(Requirement(d)) for d in PROJECT["optional-dependencies"]["testing"]}


def test_the_classifiers_name_every_supported_python_and_no_other(
    metadata: email.message.Message,
) -> None:
    classifiers = metadata.get_all("Classifier", [])
    assert "Typing :: Typed" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    pythons = [m.group(1) for c in classifiers if (m := PYTHON_CLASSIFIER.match(c))]
    minors = [int(v.split(".")[1]) for v in pythons]
    # Consecutive from requires-python's lower bound: no gap, no claim below it.
    assert PROJECT["requires-python"] == f">=3.{minors[0]}"
    assert minors == list(range(minors[0], minors[0] + len(minors)))
    # The interpreter running this leg of the matrix is one the classifiers claim.
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in pythons


def test_the_entry_points_are_the_cli_and_the_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    text = wheel.read(f"{PACKAGE}-{VERSION}.dist-info/entry_points.txt").decode()
    assert re.search(r"^sigv4-imagebuilder = sigv4_imagebuilder\._cli:run$", text, re.M)
    assert re.search(
        r"^sigv4_imagebuilder = sigv4_imagebuilder\.testing\.pytest_plugin$", text, re.M
    )


def test_the_sdist_holds_the_tests_fixtures_and_docs(sdist: dict[str, bytes]) -> None:
    for name in ("pyproject.toml", "PKG-INFO", "README.md", "CHANGELOG.md", "LICENSE"):
        assert name in sdist, name
    for name in ("noxfile.py", "Makefile", "MANIFEST.in"):
        assert name in sdist, name

    # Every file the suite reads, whatever its kind (a TLS test's key and
    # certificate too), not only the Python and JSON ones.
    def shipped(folder: str) -> set[str]:
        return {
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }

    tests, fixtures, docs = shipped("tests"), shipped("fixtures"), shipped("docs")
    assert "tests/conftest.py" in tests and "fixtures/success.json" in fixtures
    assert "tests/tls/selfsigned.pem" in tests and "docs/development.md" in docs
    assert any("/" in f.removeprefix("fixtures/") for f in fixtures)  # subfolders too
    assert tests | fixtures | docs <= set(sdist)
    assert f"{PACKAGE}/py.typed" in sdist
    assert not [n for n in sdist if "__pycache__" in n or n.endswith(".pyc")]


def test_the_version_lives_in_one_place(sdist: dict[str, bytes]) -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    pkg_info = email.parser.Parser().parsestr(sdist["PKG-INFO"].decode())
    assert pkg_info["Version"] == VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def test_the_changelog_has_the_current_version_and_an_unreleased_section(
    sdist: dict[str, bytes],
) -> None:
    changelog = sdist["CHANGELOG.md"].decode()
    headings = re.findall(r"^## (.+)$", changelog, re.M)
    assert headings[0] == "[Unreleased]"
    assert any(
        re.fullmatch(rf"\[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}", h) for h in headings
    )


def test_the_development_page_says_which_versions_are_tested(sdist: dict[str, bytes]) -> None:
    development = sdist["docs/development.md"].decode()
    for classifier in PROJECT["classifiers"]:
        if m := PYTHON_CLASSIFIER.match(classifier):
            assert m.group(1) in development, m.group(1)
    for dependency in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["testing"]]:
        req = Requirement(dependency)
        (lower,) = [s.version for s in req.specifier if s.operator == ">="]
        assert f"{req.name} {lower}" in development, (req.name, lower)


def test_the_package_under_test_is_the_installed_wheel() -> None:
    if not os.environ.get("SIB_EXPECT_INSTALLED"):
        pytest.skip("only the matrix's sessions (noxfile.py) test an installed wheel")
    where = Path(sigv4_imagebuilder.__file__).resolve()
    assert Path(sysconfig.get_paths()["purelib"]).resolve() in where.parents
    assert ROOT.resolve() not in where.parents
    assert importlib.metadata.version("sigv4-imagebuilder") == VERSION
    files = importlib.metadata.files("sigv4-imagebuilder") or []
    assert "sigv4_imagebuilder/py.typed" in {str(f) for f in files}
