# mcis: `make demo` runs the main scenario, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's country shapes: Natural Earth 1:110m as TopoJSON from npm's world-atlas
# (ISC; the data is public domain), fetched once into a gitignored folder and checked.
WORLD_ATLAS := api/dashboard/static/vendor/world-atlas/countries-110m.json
WORLD_ATLAS_SHA256 := 2516c915867c7baf18ddec727aec46c315541a07cfb3d79a6559b05d5e94eee8

.PHONY: install demo test lint typecheck unit e2e bench bench-10k chaos reliability histories clean

install: $(STAMP) $(WORLD_ATLAS)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the dashboard's country shapes
$(WORLD_ATLAS):
	rm -rf $(@D).tmp && mkdir -p $(@D).tmp
	cd $(@D).tmp && npm pack --silent world-atlas@2.0.2 >/dev/null \
	  && tar -xzf world-atlas-2.0.2.tgz --strip-components=1 package/countries-110m.json package/LICENSE \
	  && rm world-atlas-2.0.2.tgz
	echo "$(WORLD_ATLAS_SHA256)  $(@D).tmp/countries-110m.json" | sha256sum --check --quiet
	rm -rf $(@D) && mv $(@D).tmp $(@D)

demo: $(STAMP) $(WORLD_ATLAS)
	$(BIN)/python -m starter.demo $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

test: lint typecheck $(WORLD_ATLAS)
	$(BIN)/pytest -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -q -m "not e2e" $(PYTEST_ARGS)

e2e: $(STAMP) $(WORLD_ATLAS)
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
