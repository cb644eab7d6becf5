# The one entry point: CI runs `make test` too (see .ci/run).
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: help install build harness demo demo-stateful lint test test-rust test-python bench bench-smoke chaos clean

help:
	@echo "make demo     the example framework on an embedded simulated cluster"
	@echo "make demo-stateful  the stateful example: replicas on persistent volumes, same cluster"
	@echo "make install  create $(VENV), install the dependencies and build ark (release)"
	@echo "make test     lint, cargo test and pytest: the command CI runs"
	@echo "make bench    the benchmarks that the README's tables come from"
	@echo "make chaos    random faults on two HA scheduler processes for minutes (CHAOS_SEED, CHAOS_SECONDS)"

$(PY):
	@python3 -m venv $(VENV)
	@$(PIP) install -q --upgrade pip

# The extension as `make demo` needs it: rebuilt only when what it is built
# from changed (Python sources are installed in place and need no build),
# quietly, with the log kept for when it fails.
BUILT := $(VENV)/.ark-built
BUILD_INPUTS := $(shell find rust proto -type f -not -path 'rust/bench-master/*') \
	Cargo.toml Cargo.lock pyproject.toml

$(BUILT): $(BUILD_INPUTS) | $(PY)
	@echo "building ark (release; once, until the Rust sources change; log: $(VENV)/build.log)"
	@$(PIP) install -q "maturin>=1.7,<2" > $(VENV)/build.log 2>&1 \
		&& $(VENV)/bin/maturin develop --release -q --extras example >> $(VENV)/build.log 2>&1 \
		|| { cat $(VENV)/build.log; exit 1; }
	@touch $@

# What `make install` installs (the release build with the test and lint
# extras), redone by `make test` only when what it is built from changed: CI
# runs `make install`, then `make test`, which need not build it twice.
INSTALLED := $(VENV)/.ark-installed

$(INSTALLED): $(BUILD_INPUTS) | $(PY)
	$(PIP) install -q "maturin>=1.7,<2"
	$(VENV)/bin/maturin develop --release -q --extras test,lint
	@touch $(BUILT) $@

# The two release builds side by side: the extension's fat LTO ends on one
# core for minutes, and pip's installs hardly use one; the harness takes the other.
install: $(PY)
	@rm -f $(INSTALLED)
	$(MAKE) -j2 $(INSTALLED) harness

# The benchmark master (rust/bench-master), in a target directory of its own so
# that it and maturin's build never redo each other's; tests/bench and
# bench/scale.py run it (bench/bench_master.py builds it the same way).
harness:
	cargo build --profile bench-master -q -p ark-bench-master --target-dir target/bench-master

build: $(PY)
	$(VENV)/bin/maturin develop --release -q

# DEMO_ARGS: options of python -m ark.examples.everywhere (--help lists them).
demo: $(BUILT)
	@$(PY) -m ark.examples.everywhere $(DEMO_ARGS)

# DEMO_ARGS: options of python -m ark.examples.stateful (--help lists them).
demo-stateful: $(BUILT)
	@$(PY) -m ark.examples.stateful $(DEMO_ARGS)

lint: $(PY)
	$(VENV)/bin/ruff check python tests bench
	$(VENV)/bin/ruff format --check python tests bench
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest ark._core
	cargo fmt --check
	cargo clippy --workspace --all-targets -q -- -D warnings
	cargo clippy --all-targets --features python -q -- -D warnings

test-rust:
	cargo test --workspace -q

# The suite on TEST_WORKERS processes (pytest-xdist): most tests wait on timers
# (heartbeats, timeouts, failovers), so two share the cores well. Each module
# stays on one worker (--dist loadfile): a real Mesos a module starts is started
# once. Not more workers than CI's two cores: the CPU-bound property tests
# (1000 examples in CI) would take turns on them and near pytest-timeout's limit.
# The slowest tests are listed at the end, where a test that grew shows.
# One process by default (0: no xdist): on two workers a real-Mesos partition
# test and a fault-proxy test missed their timing in one CI rehearsal of two.
TEST_WORKERS ?= 0
test-python: $(PY)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

test: $(INSTALLED) harness lint test-rust test-python

bench: build harness
	$(PY) bench/reducer.py
	$(PY) bench/inbox.py
	$(PY) bench/memory.py
	$(PY) bench/matching.py
	$(PY) bench/encoding.py
	$(PY) bench/sim.py
	$(PY) bench/end_to_end.py
	$(PY) bench/everywhere.py
	$(PY) bench/failover.py
	$(PY) bench/scale.py
	$(PY) bench/recorder.py
	$(PY) bench/maintenance.py
	$(PY) bench/deployment.py

# The benchmarks at a tiny size: they must keep running, not measure anything.
# The extension as `make install` or `make demo` left it, unless it is stale.
bench-smoke: $(BUILT) harness
	$(PY) bench/reducer.py --messages 20000 --tasks 2000 --held-tasks 2000
	$(PY) bench/inbox.py --messages 20000
	$(PY) bench/memory.py --tasks 20000
	$(PY) bench/matching.py --agents 500 --tasks 2000
	$(PY) bench/encoding.py --agents 200 --updates 2000 --repeat 1
	$(PY) bench/sim.py --agents 500 --tasks-per-agent 4
	$(PY) bench/end_to_end.py --agents 50 --tasks 200
	$(PY) bench/everywhere.py --agents 50 --requests 20
	$(PY) bench/failover.py --timeouts 1 --trials 1
	$(PY) bench/scale.py --updates 2000 --tasks 2000 --agents 200 --reducer-tasks 20000
	$(PY) bench/recorder.py --messages 20000 --tasks 2000 --repeat 1
	$(PY) bench/maintenance.py --tasks 2000 --updates 2000
	$(PY) bench/deployment.py --tasks 2000 --updates 500

# The long chaos run (the tests run a 10 s seed of it); prints what it did and what held.
CHAOS_SEED ?= 1
CHAOS_SECONDS ?= 300
chaos: $(PY)
	$(PY) tests/faults/chaos.py --seed $(CHAOS_SEED) --seconds $(CHAOS_SECONDS)

clean:
	cargo clean
	rm -rf $(VENV)
