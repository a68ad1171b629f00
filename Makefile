# Both targets build the virtual environment themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck contracts pytest pytest-postgres system-deps focus-validator bench clean

# The first build takes a minute or two: say so, and let pip show its progress
# on the long step (the quick ones stay quiet).
$(STAMP): pyproject.toml
	@echo "Leitstand: building the virtual environment in $(VENV) (first run, ~1-2 min) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Leitstand: installing Leitstand and its dependencies (pip shows its progress) ..."
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	# The grafana extra (dashboards push, and its tests) brings niquests, whose
	# urllib3-future wheel installs a module named urllib3 over the real one and
	# breaks requests-based tools (schemathesis). Built from source with this
	# switch, it keeps to its own namespace (urllib3_future), which niquests uses.
	URLLIB3_NO_OVERRIDE=true $(BIN)/pip install --quiet --no-binary urllib3-future urllib3-future
	$(BIN)/pip install --quiet -e '.[grafana]'
	$(BIN)/python -c "import urllib3, sys; sys.exit(0 if int(urllib3.__version__.split('.')[2]) < 900 else 'urllib3 is shadowed by urllib3-future ' + urllib3.__version__)"
	touch $(STAMP)
	@echo "Leitstand: virtual environment ready ($(VENV))."

run: $(STAMP)
	$(BIN)/leitstand demo

test: $(STAMP) lint typecheck contracts pytest pytest-postgres

lint: $(STAMP)
	$(BIN)/ruff check agent collector tui tests bench
	$(BIN)/ruff format --check agent collector tui tests bench

# The agent runs on Windows servers too; no Windows here, so mypy checks its calls as if.
typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --platform win32 --cache-dir .mypy_cache/win32 agent

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -W error $(PYTEST_ARGS)

# The store's suite once more on PostgreSQL: every test that opens a SQLite
# path gets a fresh database on a throwaway server instead (tests/conftest.py).
pytest-postgres: $(STAMP)
	LEITSTAND_TEST_BACKEND=postgres $(BIN)/pytest -W error -q tests/collector $(PYTEST_ARGS)

# Real peers the integration tests and benchmarks run against (Debian packages).
# Optional locally (tests skip, naming the package); CI installs them.
system-deps: focus-validator
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		prometheus-node-exporter zabbix-agent wrk snmpd snmp prometheus-snmp-exporter \
		prometheus prometheus-alertmanager postgresql
	# The Debian packages start their daemons; tests start their own on free ports.
	-systemctl disable --now prometheus-node-exporter zabbix-agent snmpd prometheus-snmp-exporter \
		prometheus prometheus-alertmanager postgresql 2>/dev/null
	-pg_ctlcluster --mode fast $$(ls /etc/postgresql 2>/dev/null | head -n1) main stop 2>/dev/null
	-pkill -x prometheus-node-exporter; pkill -x zabbix_agentd; pkill -x snmpd; pkill -x prometheus-snmp-exporter; \
		pkill -x prometheus; pkill -x prometheus-alertmanager; true

# The FinOps Foundation's focus-validator (FOCUS 1.2) checks our FOCUS exports
# (tests/collector/metering/test_focus_validator.py). It needs Python >= 3.12 and
# this project runs on 3.11, so uv (dev extra) gives it a venv of its own, from a
# Python 3.12+ of this machine (on PATH, or pyenv's), else one uv downloads.
FOCUS_VENV   := .venv-focus
FOCUS_PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null); do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && command -v $$p && break; done)

focus-validator: $(FOCUS_VENV)/.installed

$(FOCUS_VENV)/.installed: $(STAMP)
	$(BIN)/uv venv --quiet --allow-existing --python '$(or $(FOCUS_PYTHON),3.12)' $(FOCUS_VENV)
	# pyarrow 22+ needs NumPy 2, which focus-validator 2.2 does not take
	$(BIN)/uv pip install --quiet --python $(FOCUS_VENV)/bin/python 'focus-validator>=2,<3' 'pyarrow<22'
	touch $@

bench: $(STAMP)
	$(BIN)/python bench/agent_footprint.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) $(FOCUS_VENV) .mypy_cache .pytest_cache .ruff_cache
