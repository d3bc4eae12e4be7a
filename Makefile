# hotspots developer commands. `make test` is the one CI runs (via .ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LINT_PATHS := geodata hotspots maps api tests benchmarks

.PHONY: venv demo test lint bench

venv: $(VENV)/.installed

# Re-run pip only when pyproject.toml is newer than the stamp.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "hotspots needs Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	bash scripts/fetch-assets.sh
	touch $@

demo: venv
	$(BIN)/hotspots demo

# Installs PostGIS if needed, starts a throwaway cluster, runs pytest.
# Extra pytest args: make test PYTEST_ARGS='-k crs -x'
test:
	bash scripts/test.sh

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

bench: venv
	$(BIN)/python -m benchmarks.run
