# The two set-up commands: `make demo` and `make test`. Each creates .venv when missing, installs
# torch first (so no other requirement picks a different torch), then mis with its dev extras under
# constraints.txt (the versions tested together), then runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mis-installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
DEMO_OUT ?= demo_out
PYTEST_ARGS ?=

.PHONY: install test demo lint clean-venv

# torch is skipped when the pinned versions are already installed (a 0.1 s metadata check instead of
# ~4 s of pip resolving an already-satisfied torch); the stamp skips the whole step until
# pyproject.toml or constraints.txt change.
TORCH_CHECK := import importlib.metadata as m, sys; \
	sys.exit(any(m.version(p) != v for p, v in (x.split("==") for x in sys.argv[1:])))

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c '$(TORCH_CHECK)' $(TORCH_PINS) 2>/dev/null \
		&& echo "$(TORCH_PINS): already installed" \
		|| $(PY) -m pip install -q --no-compile --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install -q --no-compile --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/mis demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests perf
	$(VENV)/bin/mypy src

clean-venv:
	rm -rf $(VENV)
