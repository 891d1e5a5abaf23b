# Every target creates .venv and installs the package (with test extras) when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
JOBS ?= 2
TEAM ?= demo
DATASET ?=
DEMO := build/demo
BENCH_MINUTES ?= 10,60

.PHONY: install test demo submission bench clean

install: $(INSTALLED)

$(INSTALLED): setup.cfg setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

test: $(INSTALLED)
	$(BIN)/python -m pytest -n $(JOBS) --doctest-modules mediaeval tests

# The main job on a built-in sample: sample data, baseline runs, validation, dev scores, zip.
demo: $(INSTALLED)
	test -f $(DEMO)/sample.done || { rm -rf $(DEMO)/sample && \
	  $(BIN)/mediaeval sample $(DEMO)/sample --seed 0 && touch $(DEMO)/sample.done; }
	mkdir -p $(DEMO)/dev $(DEMO)/submission
	for subtask in valence_arousal fear; do \
	  $(BIN)/mediaeval baseline --dataset $(DEMO)/sample --subtask $$subtask --films dev \
	    --out $(DEMO)/dev/me17ei_$(TEAM)_$${subtask}_run1.txt && \
	  $(BIN)/mediaeval baseline --dataset $(DEMO)/sample --subtask $$subtask --films test \
	    --out $(DEMO)/submission/me17ei_$(TEAM)_$${subtask}_run1.txt || exit 1; \
	done
	$(BIN)/mediaeval validate $(DEMO)/dev/*.txt $(DEMO)/submission/*.txt --dataset $(DEMO)/sample
	for run in $(DEMO)/dev/*.txt; do $(BIN)/mediaeval score $$run --dataset $(DEMO)/sample || exit 1; done
	$(BIN)/mediaeval package $(DEMO)/submission/*.txt --team $(TEAM) --dataset $(DEMO)/sample \
	  --out $(DEMO)/me17ei_$(TEAM).zip --force
	@echo "demo submission: $(DEMO)/me17ei_$(TEAM).zip"

# Validate and package the run files in submission/ (TEAM=name DATASET=root).
submission: $(INSTALLED)
	@test -n "$(DATASET)" || { echo "usage: make submission TEAM=name DATASET=path/to/data" >&2; exit 2; }
	$(BIN)/mediaeval validate submission/me17ei_$(TEAM)_*.txt --dataset $(DATASET)
	$(BIN)/mediaeval package submission/me17ei_$(TEAM)_*.txt --team $(TEAM) --dataset $(DATASET) \
	  --out submission/me17ei_$(TEAM).zip --force
	@echo "submission: submission/me17ei_$(TEAM).zip"

clean:
	rm -rf build .pytest_cache

# Benchmarks: ratios against a baseline measured in the same run (see tools/).
bench: $(INSTALLED)
	$(BIN)/python tools/bench_extract.py --minutes $(BENCH_MINUTES)
