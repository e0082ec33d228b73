# mcis: `make demo` runs the main scenario, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit e2e bench bench-10k chaos reliability histories clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m starter.demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

test: lint typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -q -m "not e2e" $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/pytest -q -m e2e $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.create_mcis --vms 200 --regions 10 --boot 5
	$(BIN)/python -m bench.create_mcis --vms 1000 --regions 10 --boot 5
	$(BIN)/python -m bench.create_mcis --vms 1000 --regions 50 --boot 5
	$(BIN)/python -m bench.lifecycle --vms 200 --regions 10 --transition 5
	$(BIN)/python -m bench.recommend
	$(BIN)/python -m bench.policy_sample --vms 1000 --regions 10
	$(BIN)/python -m bench.ssh_fanout --vms 50
	$(BIN)/python -m bench.chaos --quick

# issue #13 at full size: 10,000 VMs over 50 regions (create, then suspend/resume)
bench-10k: $(STAMP)
	$(BIN)/python -m bench.create_mcis --vms 10000 --regions 50 --boot 5
	$(BIN)/python -m bench.lifecycle --vms 10000 --regions 50 --transition 5

chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --runs 3

reliability: $(STAMP)
	$(BIN)/pytest -q tests/reliability $(PYTEST_ARGS)

histories: $(STAMP)
	$(BIN)/python -m tests.histories.record $(if $(RELEASE),--release $(RELEASE))

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
