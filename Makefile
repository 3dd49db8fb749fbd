# `make demo` and `make test` bootstrap .venv themselves on a fresh machine.
# Each extras set is installed once; a stamp file per set (re-made only when
# setup.py changes) keeps re-runs from reinstalling.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest
export USE_TF := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo demo-long scale-sweep test test-slow test-all bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-%: setup.py | $(BIN)/python
	cp -p setup.py $@.tmp  # stamp keeps setup.py's mtime as of install start
	$(BIN)/pip install --quiet --progress-bar off -e '.[$(subst +,$(comma),$*)]'
	mv $@.tmp $@

comma := ,

demo: $(VENV)/.stamp-test
	$(BIN)/text2tracks experiment --gin_file=gin_configs/runs/demo.gin --workdir runs/demo

# The longer CPU experiment on the demo world: the demo with its Table 3 model
# trained 10 epochs, regularised, and 40 beams for every system (~39 min;
# gin_configs/runs/demo_long.gin; README "Results").
demo-long: $(VENV)/.stamp-test
	$(BIN)/text2tracks experiment --gin_file=gin_configs/runs/demo_long.gin --workdir runs/demo_long

# Catalog-size sweep (~35 min on 2 cores): one experiment per world, then a
# side-by-side table and plot in runs/scale/report.
SWEEP_PRESETS ?= scale-20k demo scale-60k
scale-sweep: $(VENV)/.stamp-test
	for p in $(SWEEP_PRESETS); do \
	  $(BIN)/text2tracks experiment --gin_file=gin_configs/runs/scale_sweep.gin \
	    --gin.run_experiment.prepare_options="{'preset': '$$p'}" --workdir runs/scale/$$p || exit 1; \
	done
	$(BIN)/python -m text2tracks_jax.experiments.sweep $(addprefix runs/scale/,$(SWEEP_PRESETS)) --out runs/scale/report

test: $(VENV)/.stamp-test
	$(PYTEST) -m "not slow" -q tests

test-slow: $(VENV)/.stamp-test
	$(PYTEST) -m slow -q tests

test-all: $(VENV)/.stamp-test
	$(PYTEST) -q tests

bench: $(VENV)/.stamp-test
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
