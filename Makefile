# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv and install the package into it first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint system-deps bench docs

# The demo needs only the package, PyJWT to check id_tokens and cachelib for its cache;
# the tests and benchmarks need their tools and the libraries compared.
$(VENV)/.demo-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[demo]'
	touch $@

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

# Debian packages the tests use for real: headless Chromium (browser test),
# redis-server and PostgreSQL (server-side token storage; the tests start
# their own servers, so the package's own cluster is left as installed).
system-deps:
	@need=""; \
	command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	command -v redis-server >/dev/null 2>&1 || need="$$need redis-server"; \
	{ ls /usr/lib/postgresql/*/bin/initdb || command -v initdb; } >/dev/null 2>&1 || need="$$need postgresql"; \
	if [ -n "$$need" ]; then \
	  echo "installing:$$need"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$need; \
	fi

demo: $(VENV)/.demo-installed
	$(BIN)/python -m example_app

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict flask_adobe_oauth

test: $(VENV)/.installed system-deps lint
	$(BIN)/pytest -p no:cacheprovider

bench: $(VENV)/.installed
	$(BIN)/python -m bench

# The documentation site, warnings as errors (tests/test_docs.py runs the same build).
docs: $(VENV)/.installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"
