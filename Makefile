# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: interop demo test lint typecheck pytest bench fuzz clean sysdeps-build sysdeps-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml | sysdeps-build
	$(BIN)/python -m pip install --quiet -e '.[dev,video,scale,server,monitor]'
	# invisible-watermark (reference encoder for generator-watermark tests) declares torch,
	# which its dwtDct code never uses: install it without dependencies (they are in [dev]).
	$(BIN)/python -m pip install --quiet --no-deps 'invisible-watermark==0.2.0'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# System packages (scripts/sysdeps.sh says which and why), installed with apt-get when missing.
sysdeps-build:
	@bash scripts/sysdeps.sh build

sysdeps-test:
	@bash scripts/sysdeps.sh test

pytest: $(STAMP) sysdeps-test
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# Our resolver client against the independent Node 2.4 server (a checkout of
# Cognitive-Proof/c2pa-soft-binding-server named by JINJJA_SBR_NODE_SERVER).
interop: $(STAMP) sysdeps-test
	@test -n "$$JINJJA_SBR_NODE_SERVER" || { echo "make interop: set JINJJA_SBR_NODE_SERVER=DIR" >&2; exit 2; }
	$(BIN)/python -m pytest -q tests/interop

# Benchmarks are measurements, not tests: peers side by side, results in bench-out/.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet --no-deps 'invisible-watermark==0.2.0'
	JINJJA_SHARED=$${JINJJA_SHARED:-../shared} $(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# Fuzz the container and JUMBF readers for FUZZ_MINUTES (not part of `make test`).
FUZZ_MINUTES ?= 5
fuzz: $(STAMP)
	$(BIN)/python benchmarks/fuzz_readers.py --minutes $(FUZZ_MINUTES)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
