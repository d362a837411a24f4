# `make demo` installs everything into .venv and runs the demo; `make test` runs the tests and
# the suite gates. Both work offline once the packages are installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install demo test gates clean

install: $(VENV)/.installed

# torch is pinned in constraints.txt to its CPU build: unpinned, pip picks a multi-GB CUDA one.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: install
	$(BIN)/harness run

test: install
	$(BIN)/pytest tests/ suites/

gates: install
	$(BIN)/pytest suites/

clean:
	rm -rf $(VENV) runs
