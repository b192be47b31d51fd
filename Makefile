# Everything runs from a project-local virtualenv made on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test serve bench faults clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python run_pipeline.py demo

test: $(STAMP)
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

serve: $(STAMP)
	$(BIN)/python run_pipeline.py serve

bench: $(STAMP)
	$(BIN)/python -m bench

faults: $(STAMP)
	SMC_FAULTS_LONG=1 $(BIN)/python -m pytest -q -s tests/faults

clean:
	rm -rf $(VENV) data out .pytest_cache
