# Both targets build the virtual environment themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck contracts pytest pytest-postgres system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The grafana extra (dashboards push, and its tests) brings niquests, whose
	# urllib3-future wheel installs a module named urllib3 over the real one and
	# breaks requests-based tools (schemathesis). Built from source with this
	# switch, it keeps to its own namespace (urllib3_future), which niquests uses.
	URLLIB3_NO_OVERRIDE=true $(BIN)/pip install --quiet --no-binary urllib3-future urllib3-future
	$(BIN)/pip install --quiet -e '.[grafana]'
	$(BIN)/python -c "import urllib3, sys; sys.exit(0 if int(urllib3.__version__.split('.')[2]) < 900 else 'urllib3 is shadowed by urllib3-future ' + urllib3.__version__)"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/leitstand demo

test: $(STAMP) lint typecheck contracts pytest pytest-postgres

lint: $(STAMP)
	$(BIN)/ruff check agent collector tui tests bench
	$(BIN)/ruff format --check agent collector tui tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

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
system-deps:
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

bench: $(STAMP)
	$(BIN)/python bench/agent_footprint.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
