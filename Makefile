# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: demo test lint typecheck pytest bench fuzz clean node system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
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

# The soft-binding conformance suite (tests/integration/cli/test_softbinding_conformance.py)
# runs on node and npm: install them when missing (CI runs as root on a fresh machine).
node:
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ apt-get update && apt-get install -y nodejs npm; }

# Chromium for `verify monitor run --screenshot` (tests/unit/provenance/monitor).
system-deps:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "make: install Chromium (apt-get install chromium) for the screenshot test"; fi

pytest: $(STAMP) node system-deps
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

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
