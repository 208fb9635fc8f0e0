# Two commands do everything on a fresh machine:
#   make demo   set up if needed, then run the main job on the embedded synthetic data
#   make test   set up if needed, then run the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SBR := $(VENV)/bin/sbr
STAMP := $(VENV)/.sbr-setup-ok
DATA ?= data/synth
PYTEST_ARGS ?=

.PHONY: setup system-deps demo smoke-ablation smoke-train test lint format clean

$(STAMP): pyproject.toml setup.py constraints.txt scripts/setup_env.sh
	bash scripts/setup_env.sh

# pdflatex + booktabs (reports), shellcheck (cluster scripts), chromium + chromium-driver
# (browser test of `sbr ui`); a no-op when present.
system-deps:
	bash scripts/install_system_deps.sh

setup: $(STAMP) system-deps

# The science at CPU scale: Table 4 (one R3-CNN training evaluated with L_e = 1..5, and
# Mask R-CNN) under the mini preset, then its report, Fig. 3 and the paper's claims judged
# from the same runs.
demo: setup
	$(SBR) data synth --out $(DATA)
	$(SBR) data check $(DATA)
	$(SBR) run-ablation table4 --preset mini --data $(DATA)
	$(SBR) report table4
	$(SBR) report claims
	@echo
	@echo "Report:    reports/index.html (LaTeX: reports/tables/table4.tex, Fig. 3: reports/figures/fig3.png)"
	@echo "Claims:    reports/claims/claims.csv (one seed: only claims within one training can be decided)"
	@echo "MLflow UI: $(SBR) ui table4   (prints the runs link and a compare link of Table 4's rows)"

# The plumbing check: every row of Table 3 at full size, 4 iterations each (numbers mean nothing).
smoke-ablation: setup
	$(SBR) data synth --out $(DATA)
	$(SBR) run-ablation table3 --preset smoke --data $(DATA)
	$(SBR) report table3

# The foundation's check: the smoke Mask R-CNN learns the synthetic shapes (prints bbox/segm AP).
smoke-train: setup
	$(SBR) data synth --out $(DATA)
	$(SBR) train smoke/mask-rcnn_r18_fpn_smoke --data $(DATA) --work-dir work_dirs/smoke

test: setup
	$(PY) -m pytest --durations=15 $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf work_dirs .pytest_cache
