# Two entry points for a newcomer; each builds its own project-local virtual environment.
#   make demo   segment the bundled sample with the bundled demo model
#   make test   run the whole test suite (installs Debian's chromium for the Studio's browser tests
#               and orthanc + orthanc-dicomweb for the DICOMweb tests)
#   make studio serve SGRS Studio on http://127.0.0.1:8080/ (see docs/studio.md)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
# CPU build of PyTorch by default (GPU users: see README, "Using a GPU").
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-slow bench bench-ssl demo-model clean studio chromium orthanc

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[test,slicer,studio]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m sgrs.demo

# The Studio's browser tests drive Debian's chromium (Playwright's own download cannot reach its host).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

# The DICOMweb tests start a real Orthanc with its DICOMweb plugin (Testing/pacs/orthanc_server.py).
orthanc:
	@(command -v Orthanc >/dev/null 2>&1 && test -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so) || \
		(apt-get update && apt-get install -y orthanc orthanc-dicomweb)

test: $(VENV)/.installed chromium orthanc
	$(PY) -m pytest -q

studio: $(VENV)/.installed
	$(VENV)/bin/sgrs-studio $(STUDIO_ARGS)

test-slow: $(VENV)/.installed chromium orthanc
	$(PY) -m pytest -q -m slow

bench: $(VENV)/.installed
	$(PY) benchmarks/speed/step_speed.py
	$(PY) benchmarks/speed/segment_speed.py
	$(PY) benchmarks/speed/inference_variants.py
	$(PY) benchmarks/speed/segment_memory.py
	$(PY) benchmarks/method/methods_dice.py

# The powered semi-supervised comparison (about an hour on 2 CPU cores; resumable): docs/benchmarks.md
bench-ssl: $(VENV)/.installed
	nice -n 10 $(PY) benchmarks/method/ssl_gain.py --out out/ssl-gain

demo-model: $(VENV)/.installed
	bash Resources/Demo/make_demo_model.sh

clean:
	rm -rf $(VENV) build *.egg-info
