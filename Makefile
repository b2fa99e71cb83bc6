# Two commands: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: demo test lint typecheck pytest bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,video,scale,server]'
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

pytest: $(STAMP)
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
