# The commands a person types. Each installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
# The demo needs the package alone: a newcomer's first command installs nothing more.
DEMO_STAMP := $(VENV)/.installed-demo
BENCH_STAMP := $(VENV)/.installed-bench
# uv (from PyPI, into .venv) makes every virtualenv and installs into it; it uses only
# the interpreters on this machine and never downloads one.
UV := $(BIN)/uv
export UV_PYTHON_DOWNLOADS := never
# Two matrix legs at once: the suite mostly waits, so two legs of -n auto share 2 cores well.
MATRIX_JOBS ?= 2

.PHONY: help install test lint format typecheck demo bench matrix legs dist clean

help:
	@echo "make demo    cancel a build against the bundled local stand-in (no AWS account)"
	@echo "make test    install everything, then lint, type-check and run the suite in parallel"
	@echo "             (pytest-xdist, one worker per CPU) with coverage"
	@echo "make lint    ruff check and format check"
	@echo "make format  ruff format and autofix"
	@echo "make bench   side-by-side benchmark against boto3"
	@echo "make matrix  build sdist and wheel, test the installed wheel on Python 3.10-3.13,"
	@echo "             newest and lowest declared dependencies (nox; see noxfile.py)"
	@echo "make dist    build sdist and wheel into dist/ and twine-check them"
	@echo "make clean   remove the virtualenv and caches"

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.13'

$(STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $@ $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e .
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check sigv4_imagebuilder tests benchmarks noxfile.py
	$(BIN)/ruff format --check sigv4_imagebuilder tests benchmarks noxfile.py

format: $(STAMP)
	$(BIN)/ruff format sigv4_imagebuilder tests benchmarks noxfile.py
	$(BIN)/ruff check --fix sigv4_imagebuilder tests benchmarks noxfile.py

typecheck: $(STAMP)
	$(BIN)/mypy --strict sigv4_imagebuilder

# coverage's patch = ["subprocess"] measures the xdist workers and the CLI's child
# processes; combine merges their data files. pytest's exit code (5: no tests) fails make.
test: lint typecheck
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -n auto
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

demo: $(DEMO_STAMP)
	$(BIN)/python -m sigv4_imagebuilder.testing demo

# The peers: aiobotocore pins its own botocore; pip picks a boto3 that agrees with it.
$(BENCH_STAMP): $(STAMP)
	$(UV) pip install --quiet --python $(BIN)/python boto3 aiobotocore
	touch $@

# BENCH_QUICK=1 for a short run; BENCH_ARGS="--only warm --rounds 2" for a part.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Every leg installs the built wheel into a fresh virtualenv (uv, from PyPI),
# so this needs no interpreter but pyenv's 3.10-3.13 and fails if one is missing.
# dist first, then the legs (every nox session but dist) MATRIX_JOBS at a time,
# each leg's log printed whole when it ends.
matrix: $(STAMP)
	$(BIN)/nox -s dist
	$(MAKE) --no-print-directory -j$(MATRIX_JOBS) --output-sync=target legs \
	  LEGS="$$($(BIN)/nox -l --json | $(BIN)/python -c 'import json, sys; print(*(s["session"] for s in json.load(sys.stdin) if s["name"] != "dist"))')"

legs: $(addprefix leg-,$(LEGS))
	@test -n "$(LEGS)" || { echo "make legs: no matrix legs found (nox -l)"; exit 1; }

leg-%: $(STAMP)
	$(BIN)/nox -s $*

dist: $(STAMP)
	$(BIN)/nox -s dist

clean:
	rm -rf $(VENV) .coverage .coverage.* .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -rf .nox dist build *.egg-info
