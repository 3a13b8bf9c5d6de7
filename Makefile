.PHONY: demo test test-fast screenshots lint

demo:  ## install, generate a demo chain, run the pipeline, serve on 127.0.0.1:8000
	bash scripts/demo.sh

test:  ## install what the tests need and run the whole suite
	bash scripts/test.sh

test-fast:  ## the fast layer: no Spark, torch training, worker processes or browser
	bash scripts/test.sh -m "not integration and not browser"

screenshots:  ## retake docs/screenshots with the browser tests
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots bash scripts/test.sh tests/browser

lint:  ## ruff, mypy and the layer check (docs/architecture.md)
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy . && .venv/bin/python scripts/check_layers.py
