# Two commands do all set-up on a fresh machine with Python 3.11: `make book` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: book test notebooks check clean benchmarks

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

## Build the HTML book into _build/html; a failing cell, missing glue key or unknown citation fails it.
book: $(STAMP)
	$(BIN)/python -m analysis check
	$(BIN)/jupyter-book build -W -n --keep-going .

## Unit tests, then nbval (strict) over every chapter notebook, in one pytest run.
test: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-sanitize-with nbval_sanitize.cfg tests book

## Re-execute every chapter and store its outputs in place: run after changing data/.
notebooks: $(STAMP)
	$(BIN)/python -m analysis notebooks

## Validate every data table. The command exits 1 on bad data (2 when called wrongly); make reports
## any failing command with its own exit status 2 ("Error 1" in its message is the command's code).
check: $(STAMP)
	$(BIN)/python -m analysis check

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build
