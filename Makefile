# The two commands of the README: `make demo` runs the main job, `make test` runs the tests.
# Both set the machine up first (idempotent).
.PHONY: setup demo test lint

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/ci-pipeline demo

test: setup lint
	.venv/bin/python -m pytest -q; status=$$?; [ $$status -eq 5 ] && echo "no tests collected" && exit 1; exit $$status

lint:
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/mypy
