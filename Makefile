# Two commands matter: `make run` (the app on demo data) and `make test` (every test).
# Both start from nothing: they create .venv and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: setup setup-test run demo test check bench clean

# Shared, idempotent set-up: the virtual environment, the pinned requirements, and the demo
# model (trained here rather than shipped as a binary; see README). The demo-model command
# itself skips training while the saved model matches the data, libraries and format.
setup: $(VENV)/.requirements-stamp
	$(PY) -m impactiq demo-model --out models/demo

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.requirements-stamp: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Test set-up: everything above plus the test tools and Debian's chromium for the browser test.
setup-test: setup $(VENV)/.dev-requirements-stamp /usr/bin/chromium

$(VENV)/.dev-requirements-stamp: requirements-dev.txt $(VENV)/.requirements-stamp
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

run: setup
	$(PY) -m streamlit run streamlit_app.py --server.port $(PORT) --server.address $(or $(ADDRESS),localhost)

# The interview demo: the app opens on the Demo page's story (two users, the experiment, the
# model, the split screen), on the demo model that `setup` trains.
demo: setup
	IMPACTIQ_START=demo $(PY) -m streamlit run streamlit_app.py --server.port $(PORT) --server.address $(or $(ADDRESS),localhost)

test: setup-test
	$(PY) -m ruff check .
	$(PY) -m pytest

check: setup-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Benchmarks print their figures; the model sweep takes about 20 minutes on two cores.
# The demo's bench drives chromium, hence the test set-up.
bench: setup-test
	$(PY) bench/bench_reader.py
	$(PY) bench/bench_upload.py
	$(PY) bench/bench_load.py
	$(PY) bench/bench_demo.py
	$(PY) bench/bench_simulator.py
	$(PY) bench/bench_stream.py
	$(PY) bench/bench_scale.py
	$(PY) bench/bench_channels.py
	$(PY) bench/bench_journeys.py
	$(PY) bench/bench_models.py --sizes 100000 1000000 --estimators all --reference
	$(PY) bench/bench_coverage.py --rows 40000
	$(PY) bench/bench_comparison.py --rows 100000
	$(PY) bench/bench_comparison.py --rows 1000000

clean:
	rm -rf $(VENV) models/demo .pytest_cache
