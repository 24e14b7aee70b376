# mip6-bootstrap: two commands for a newcomer on a fresh Debian machine.
#   make run   - install what the daemon needs, create an example store, start bootstrapd
#   make test  - install what the tests need (Debian packages, venv), then run the whole suite
#   make demo  - (root) one mobile node bootstrapping end to end on real peers; KEEP=1 leaves
#                the lab and the web UI up, make demo-clean removes it
# Everything else here is a helper of those.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test demo demo-clean unit venv deps lint typecheck bench clean

run: $(STAMP)
	./scripts/run.sh

test: deps $(STAMP)
	./scripts/test.sh

demo: deps $(STAMP)
	$(PY) -m bootstrap.demo $(if $(KEEP),--keep)

demo-clean: $(STAMP)
	$(PY) -m bootstrap.demo clean

# The pure tests only (tests/unit): no root, no Debian peers, seconds.
unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

venv: $(STAMP)

deps:
	./scripts/ensure-deps.sh

$(STAMP): pyproject.toml
	./scripts/venv.sh "$(PYTHON)"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check bootstrap dhcp_hinfo dns_updater ikev2_glue migrations tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) run build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
