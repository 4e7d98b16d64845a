# The two commands of the README: `make demo` and `make test`. Each does its own set-up
# (Debian packages, venv, pip install of the core, CMake build of the C++ part into the
# venv) and skips every step that is already up to date; so does `make grc`.
SHELL := /bin/bash
VENV ?= .venv
BUILD ?= .build
OUT ?= out
EXAMPLE ?= examples/simulation/isac_ae_sim.grc
PY := $(abspath $(VENV))/bin/python
PY_SOURCES := $(shell find python -name '*.py') $(shell find models -name '*.safetensors' 2>/dev/null) pyproject.toml
CXX_SOURCES := $(shell find lib include python/isac_ae/bindings grc cmake -type f 2>/dev/null) CMakeLists.txt

.PHONY: all setup demo grc test lint format test-python test-cpp benchmark clean
all: setup

setup: $(VENV)/.cmake-installed

$(VENV)/.deps-installed: scripts/setup.sh requirements.txt
	bash scripts/setup.sh $(VENV)
	touch $@

$(VENV)/.package-installed: $(VENV)/.deps-installed $(PY_SOURCES)
	$(PY) -m pip install -q --no-deps --no-build-isolation .
	rm -rf build python/*.egg-info
	touch $@

$(VENV)/.cmake-installed: $(VENV)/.package-installed $(CXX_SOURCES)
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) -DPYTHON_EXECUTABLE=$(PY) > $(BUILD).log 2>&1 || { cat $(BUILD).log; exit 1; }
	cmake --build $(BUILD) -j2
	cmake --install $(BUILD) > /dev/null
	touch $@

# The shipped pretrained models against the baseline: Fig. 2-5, tables and a summary (a few minutes).
demo: setup
	$(VENV)/bin/isac-ae reproduce all --samples 200000 --seed 1 --out $(OUT)/demo
	GRC_BLOCKS_PATH=$(CURDIR)/grc OMP_NUM_THREADS=1 $(PY) examples/simulation/demo_headless.py --items 2000000 --out $(OUT)/demo/flowgraph

# GNU Radio Companion on EXAMPLE, with the [ISAC AE] blocks and the venv's Python
# (what `source .venv/bin/activate; gnuradio-companion` gives).
grc: setup
	@[ -f "$(EXAMPLE)" ] || { echo "make grc: no flowgraph $(EXAMPLE) (EXAMPLE=path/to/file.grc)" >&2; exit 2; }
	@[ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ] || { echo "make grc: no display (DISPLAY is not set)" >&2; exit 2; }
	$(VENV)/bin/gnuradio-companion $(EXAMPLE)

test: lint test-cpp test-python

# Python: ruff (pyproject.toml); C++: clang-format (.clang-format). Both pinned in requirements.txt.
PY_LINTED := python tests benchmarks examples scripts
CXX_LINTED = $(wildcard lib/*.cc lib/*.h include/gnuradio/isac_ae/*.h)
lint: $(VENV)/.deps-installed
	$(VENV)/bin/ruff check $(PY_LINTED)
	$(VENV)/bin/ruff format --check $(PY_LINTED)
	$(VENV)/bin/clang-format --dry-run --Werror $(CXX_LINTED)

format: $(VENV)/.deps-installed
	$(VENV)/bin/ruff check --fix $(PY_LINTED)
	$(VENV)/bin/ruff format $(PY_LINTED)
	$(VENV)/bin/clang-format -i $(CXX_LINTED)

test-cpp: setup
	cd $(BUILD) && ctest --output-on-failure

test-python: setup
	$(PY) -m pytest tests

benchmark: setup
	$(PY) benchmarks/bench_baseline.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_conditioned_training.py
	$(PY) benchmarks/bench_cpp_blocks.py
	GRC_BLOCKS_PATH=$(CURDIR)/grc OMP_NUM_THREADS=1 $(PY) benchmarks/bench_flowgraphs.py
	$(PY) benchmarks/bench_emulator.py
	$(PY) benchmarks/bench_twin.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_online_finetune.py
	OMP_NUM_THREADS=1 $(PY) benchmarks/bench_live_omega.py

clean:
	rm -rf $(BUILD) $(BUILD).log build python/*.egg-info
