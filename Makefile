# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
# Both create the virtual environment .venv if it is missing and install the pinned packages.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := requirements/constraints.txt

.PHONY: all book test lab benchmark benchmark-book validate clean clean-data help

all: book

help:
	@echo "make book       simulate, execute every run of book/runs.yaml and build book/_build/html"
	@echo "make test       run the test suite (about seven minutes on two cores)"
	@echo "make lab        JupyterLab on the notebooks, on 127.0.0.1"
	@echo "make validate   check book/runs.yaml without executing anything"
	@echo "make benchmark  limits against pyhf; make benchmark-book: build times and 2-worker speed-up"
	@echo "make clean      remove the built book and executed runs (keeps generated data)"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv (from PyPI, pinned in the constraints) installs the same pinned packages as pip in about 25 s
# instead of 70 s, compiling their bytecode as pip does (else every test process compiles it at once);
# it keeps its downloads in ~/.cache/uv.
$(STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c $(CONSTRAINTS) -e ".[test]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/dsbook build

validate: $(STAMP)
	$(BIN)/dsbook validate

# the tests' two workers, and the kernels they start: one BLAS thread each, glibc's malloc keeping
# freed blocks (the runner sets the same for a build: analysis_lib/runner/cli.py, worker_environment)
TEST_ENVIRONMENT := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456

test: $(STAMP)
	$(TEST_ENVIRONMENT) $(BIN)/python -m pytest -n 2 --dist loadgroup

# JupyterLab refuses to start as root (a container's usual user) unless told; LAB_FLAGS passes more options
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --notebook-dir notebooks $(LAB_FLAGS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_limits.py
	$(BIN)/python benchmarks/bench_multiregion.py
	$(BIN)/python benchmarks/bench_scans.py

benchmark-book: $(STAMP)
	$(BIN)/python benchmarks/bench_book.py

clean:
	rm -rf book/_build book/runs book/_toc.yml

clean-data: clean
	rm -rf data/generated
