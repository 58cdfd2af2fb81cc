# Each target creates .venv on first use and installs loglake into it (editable): `make demo` with
# its runtime and pandas, the other targets with the test extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo notebook test lint typecheck format bench clean browser java

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# the demo needs loglake's runtime and pandas (for .to_pandas() in the README), not the test tools
RUNTIME_STAMP := $(VENV)/.runtime-installed
$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(RUNTIME_STAMP)

# the lake `make demo` builds and `make notebook` opens (`make notebook LAKE=PATH` for another)
LAKE ?= demo-lake

demo: $(RUNTIME_STAMP)
	$(BIN)/python -m loglake.demo --out $(LAKE)

# Jupyter with the notebook extras; the notebooks find the demo lake through LOGLAKE_LAKE
# (built first if it is missing), wherever Jupyter is started
JUPYTER_STAMP := $(VENV)/.installed-jupyter

# the runtime and the notebook extras, not the test tools (which a first notebook never needs)
$(JUPYTER_STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[demo,jupyter]'
	touch $(JUPYTER_STAMP)

notebook: $(JUPYTER_STAMP)
	test -d $(LAKE)/_catalog || $(MAKE) demo
	cd docs && LOGLAKE_LAKE=$(abspath $(LAKE)) $(CURDIR)/$(BIN)/jupyter lab investigate.ipynb \
		$(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over the whole package (settings in pyproject.toml). It needs the installed layout, where
# catalog/ is loglake.catalog and so on, so it reads a tree of links to the sources in build/
PACKAGES := catalog ingest query monitor datasets reports investigate scaleout
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/loglake
	ln -s $(CURDIR)/loglake/*.py build/typecheck/loglake/
	for p in $(PACKAGES); do ln -s $(CURDIR)/$$p build/typecheck/loglake/$$p; done
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache -p loglake

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# the HTML report test renders in Debian's Chromium, installed here when it is missing
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# the Spark tests run pyspark on Debian's Java 17 runtime, installed here when no java is found
java:
	@command -v java >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; }

test: $(STAMP) lint browser java
	$(BIN)/python -m pytest -n 2 -q tests

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) demo-lake demo-lake-raw .pytest_cache .mypy_cache build/typecheck
