# caseyard: `make demo` runs the pipeline on the embedded bus; `make test` runs every
# check and test against a real Apache Kafka broker that it starts and stops itself.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
KAFKA := scripts/kafka

.PHONY: install demo check test test-unit bench kafka-up kafka-down clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

demo: install
	@scripts/ocr-tools
	$(BIN)/caseyard demo

check: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The broker goes down again whatever the tests do (the trap runs on failure and ^C).
# Tests needing a tool (broker, chromium, docker-compose, npm) fail here rather than skip.
# The unit tests (CPU-bound: models, OCR; one uses the broker, under names of its own) and
# the end-to-end ones (each in a directory of its own, on the embedded bus) run on every
# core at once, a file's tests on one worker (a module's fixtures, such as the end-to-end
# tests' demo projects, are built once); then the others, which share the broker, restart
# brokers and kill processes, one at a time, even when a test of the first run failed.
# They share a model cache made for this run: each local model is trained once, not per
# test.
# PYTEST_ARGS="..." runs one pytest with those arguments instead (chosen tests, one at a
# time); options for the whole suite go in PYTEST_ADDOPTS (e.g. --durations=30).
ifeq ($(strip $(PYTEST_ARGS)),)
PYTEST_RUNS = $(BIN)/pytest -n auto --dist loadfile tests/unit tests/e2e; first=$$?; \
	$(BIN)/pytest --ignore=tests/unit --ignore=tests/e2e; rest=$$?; \
	[ $$first -eq 0 ] && [ $$rest -eq 0 ]
else
PYTEST_RUNS = $(BIN)/pytest $(PYTEST_ARGS)
endif

test: check
	@scripts/test-tools
	@scripts/ocr-tools
	@$(KAFKA) fetch
	@# Bytecode for caseyard's own modules: the tests start some hundreds of `caseyard`
	@# processes, and where PYTHONDONTWRITEBYTECODE is set each compiled them all again.
	@$(BIN)/python -m compileall -q caseyard agents bus coordinator schemas
	@models=$$(mktemp -d); \
	trap '$(KAFKA) down; $(KAFKA) down --brokers 3; rm -rf "$$models"' EXIT; \
	$(KAFKA) up && \
	export CASEYARD_TEST_KAFKA=$$($(KAFKA) bootstrap) \
		CASEYARD_TEST_KAFKA_SASL=$$($(KAFKA) bootstrap --sasl) \
		CASEYARD_REQUIRE_KAFKA=1 CASEYARD_REQUIRE_TOOLS=1 CASEYARD_TEST_MODEL_CACHE="$$models" && \
	{ $(PYTEST_RUNS); }

test-unit: install
	$(BIN)/pytest -m "not kafka" $(PYTEST_ARGS)

# The benchmarks fill the broker (100k changelog states): they get a fresh one, wiped after.
bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@scripts/ocr-tools
	@trap '$(KAFKA) down --wipe' EXIT; \
	$(KAFKA) down --wipe && $(KAFKA) up && \
	CASEYARD_BENCH_KAFKA=$$($(KAFKA) bootstrap) $(BIN)/python -m bench.peers && \
	CASEYARD_BENCH_KAFKA=$$($(KAFKA) bootstrap) $(BIN)/python -m bench.bus && \
	$(BIN)/python -m bench.codec && \
	CASEYARD_BENCH_KAFKA=$$($(KAFKA) bootstrap) $(BIN)/python -m bench.coordinator && \
	CASEYARD_BENCH_KAFKA=$$($(KAFKA) bootstrap) $(BIN)/python -m bench.inbox && \
	$(BIN)/python -m bench.agents && \
	$(BIN)/python -m bench.ocr && \
	CASEYARD_BENCH_KAFKA=$$($(KAFKA) bootstrap) $(BIN)/python -m bench.scale

kafka-up:
	$(KAFKA) up

kafka-down:
	$(KAFKA) down

clean:
	$(KAFKA) down --wipe || true
	rm -rf $(VENV) .caseyard .mypy_cache .ruff_cache .pytest_cache
