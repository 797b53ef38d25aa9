# Two entry points for a newcomer; each builds its own project-local virtual environment.
#   make demo   segment the bundled sample with the bundled demo model
#   make test   run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
# CPU build of PyTorch by default (GPU users: see README, "Using a GPU").
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-slow bench bench-ssl demo-model clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,slicer]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m sgrs.demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

bench: $(VENV)/.installed
	$(PY) benchmarks/step_speed.py
	$(PY) benchmarks/segment_speed.py
	$(PY) benchmarks/inference_variants.py
	$(PY) benchmarks/segment_memory.py
	$(PY) benchmarks/methods_dice.py

# The powered semi-supervised comparison (about an hour on 2 CPU cores; resumable): docs/benchmarks.md
bench-ssl: $(VENV)/.installed
	nice -n 10 $(PY) benchmarks/ssl_gain.py --out out/ssl-gain

demo-model: $(VENV)/.installed
	bash Resources/Demo/make_demo_model.sh

clean:
	rm -rf $(VENV) build *.egg-info
