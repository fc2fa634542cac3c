# Runbook: `make demo` and `make test` are all a fresh machine with python3 and make needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt clean install

install: $(STAMP)

# uv installs exactly what uv.lock pins; the stamp reinstalls when either file changes.
# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set, nothing would
# ever be cached and every command would recompile its dependencies (seconds per start).
$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/pip install --quiet --disable-pip-version-check "uv>=0.5,<0.14"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --quiet --compile-bytecode
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_module_size.py

# One pytest worker per core (pytest-xdist): every test has its own folders, databases and
# ports. TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto
test: lint
	$(BIN)/pytest -n $(TEST_WORKERS)

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
