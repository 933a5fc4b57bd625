# strainsim: `make demo` and `make test` set everything up themselves.
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# one stamp per install flavour; reinstalled when pyproject.toml changes
$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.stamp-run
	@mkdir -p $(OUT)
	@echo "== one simulated LBBB patient, measured like a strain export =="
	$(BIN)/strainsim curves --seed 7 --csv $(OUT)/patient.csv --plot $(OUT)/patient_simulated.png > $(OUT)/patient_simulated.txt
	$(BIN)/strainsim ttp $(OUT)/patient.csv --plot $(OUT)/patient_measured.png | tee $(OUT)/patient_measured.txt
	$(BIN)/strainsim ttp $(OUT)/patient.csv --json > $(OUT)/patient_ttp.json
	@echo "== the five virtual trials pooled like the published meta-analysis =="
	$(BIN)/strainsim trial --seed 1 --out $(OUT)/trial | tee $(OUT)/summary.txt
	@echo "== the world against the published numbers =="
	$(BIN)/strainsim validate --replicates 100 --out $(OUT)/validate | tail -n 1 | tee -a $(OUT)/summary.txt
	@echo "== concordance sweep (small: 40 virtual meta-analyses per level) =="
	$(BIN)/strainsim sweep --replicates 40 --seed 1 --out $(OUT)/sweep | tee -a $(OUT)/summary.txt
	@echo "== the lesson pack: one HTML page, no server needed =="
	$(BIN)/strainsim lesson --replicates 40 --out $(OUT)/lesson | tail -n 1
	@echo "== one patient's B-mode frames, speckle-tracked =="
	$(BIN)/strainsim speckle --seed 3 --fps 30 --out $(OUT)/speckle | tail -n 2
	@echo "demo outputs written to $(OUT)/ (summary: $(OUT)/summary.txt)"

test: $(VENV)/.stamp-test
	bash .ci/ensure-chromium
	bash .ci/ensure-r
	$(BIN)/ruff check strainsim tests benchmarks docs examples
	$(BIN)/python -m pytest -n 2 -q

bench: $(VENV)/.stamp-test
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_speckle.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_meta.py
	$(BIN)/python benchmarks/bench_markers.py
	$(BIN)/python benchmarks/bench_startup.py

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check strainsim tests benchmarks docs examples

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
	find strainsim -name '*.nbi' -delete -o -name '*.nbc' -delete  # numba's kernel cache
