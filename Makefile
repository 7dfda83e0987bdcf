# lamina: the two commands that matter are `make demo` and `make test`.
# Both work on a fresh machine: they create .venv, install lamina with constraints.txt
# (which pins the CPU build of torch), and install the Fashion-MNIST Debian package if missing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FMNIST_DIR := /usr/share/datasets/fashion-mnist
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast setup data text reproduce bench lint clean

demo: setup data
	$(PY) -m lamina.demo

test: setup data
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,onnx]'
# Test-only: torchvision's model definitions, to check lamina's torchvision name mapping
# (--no-deps: it must never pull another torch; tests skip when it is absent). Kept out of
# site-packages: its compiled ops do not load on the CPU torch, and torchmetrics (under
# Lightning, a benchmark peer) would fail importing it; the tests add the folder to sys.path.
	-$(PY) -m pip uninstall --quiet -y torchvision 2>/dev/null
	$(PY) -m pip install --quiet --no-deps --upgrade --target $(VENV)/test-only \
		-c constraints.txt torchvision==0.28.0
	touch $(STAMP)

# apt-get as root, or through sudo; empty where neither can install Debian packages.
APT := $(shell command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] && echo "env DEBIAN_FRONTEND=noninteractive apt-get" || { command -v sudo >/dev/null 2>&1 && echo "sudo env DEBIAN_FRONTEND=noninteractive apt-get"; }; })

# Fashion-MNIST from Debian's dataset-fashion-mnist, when missing and apt is usable.
data:
	@if [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
		echo "Fashion-MNIST found in $(FMNIST_DIR)"; \
	elif [ -n "$(APT)" ]; then \
		echo "Installing dataset-fashion-mnist with apt-get"; \
		$(APT) update -qq && $(APT) install -y -qq dataset-fashion-mnist; \
	else \
		echo "Fashion-MNIST is not in $(FMNIST_DIR) and apt-get is not usable here;"; \
		echo "lamina will look in \$$LAMINA_DATA and its cache, then download it."; \
	fi

# The text char_lm reads in its full run: Debian's fortunes (its report's bits per character
# are for that corpus; without it the experiment falls back to vim's manual or the licenses).
text:
	@if [ -d /usr/share/games/fortunes ]; then \
		echo "fortunes found in /usr/share/games/fortunes"; \
	elif [ -n "$(APT)" ]; then \
		$(APT) update -qq && $(APT) install -y -qq fortunes; \
	else \
		echo "fortunes is not installed and apt-get is not usable: char_lm will use another text"; \
	fi

# Every experiment at full settings into runs/full (hours); rerun to continue after a stop.
reproduce: setup data text
	$(PY) -m lamina.cli reproduce --resume --out runs/full

bench: setup data
	$(PY) -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(PY) benchmarks/fit_overhead.py

lint: setup
	$(VENV)/bin/ruff check lamina tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
