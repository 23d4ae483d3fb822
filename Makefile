# Two entry points, both self-contained on a fresh machine with Python >= 3.11:
#   make demo   set up .venv and clean the bundled sample archive into out/
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup clean-venv

$(BIN)/cleaner: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,html,service]'
	@touch $@

setup: $(BIN)/cleaner

demo: setup
	$(BIN)/cleaner clean fixtures/seeds.tar.gz -o out

test: setup
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
