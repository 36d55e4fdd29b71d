# Two entry points, both self-installing on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rightsize run events/local-demo.json

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

schema: $(STAMP)
	$(BIN)/rightsize schema --write

clean:
	rm -rf $(VENV) rightsizing-runs .pytest_cache .ruff_cache
