# The two commands a fresh machine needs (see README.md):
#   make demo   — create .venv, install bdfm, fit the bundled S&P 500 returns panel
#   make test   — create .venv if needed, install bdfm with test extras (and the optional
#                 JAX samplers, so every sampler path is tested), run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# No thread variables: bdfm holds BLAS at one thread itself where that is faster (docs/install.md)
# pytensor's C backend links the system OpenBLAS when present (Debian: libopenblas-dev);
# without it bdfm links pytensor to the OpenBLAS in SciPy's wheel (bdfm/statespace/blas_link.py).
ifneq ($(shell ldconfig -p 2>/dev/null | grep -c 'libopenblas\.so '),0)
export PYTENSOR_FLAGS ?= blas__ldflags=-lopenblas
endif

.PHONY: demo test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,jax,dask]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/bdfm demo

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
