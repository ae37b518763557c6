# The two commands: `make demo` and `make test`. Both create .venv with the machine's python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The S3-compatible server the Kubernetes tests publish telemetry to (moto's, a process of its
# own): a venv of its own, because its botocore wants python-dateutil<3 and kubernetes >=3.
S3_STAMP := .venv-s3/.installed
$(S3_STAMP):
	$(PYTHON) -m venv .venv-s3
	.venv-s3/bin/python -m pip install --quiet 'moto[server]>=5'
	touch $(S3_STAMP)

demo: $(STAMP)
	$(BIN)/stratops demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint $(S3_STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	@set -e; for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench; done

schemas: $(STAMP)
	$(BIN)/python -m stratops.model.schemas schemas

clean:
	rm -rf $(VENV) .venv-s3 .pytest_cache .mypy_cache .ruff_cache .hypothesis
