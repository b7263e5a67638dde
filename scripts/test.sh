#!/usr/bin/env bash
# Every check the project has: proto lint, code lint and types, then the test suite (unit and integration,
# on SQLite and on PostgreSQL and RabbitMQ). Extra arguments go to pytest. Run it via `./layers test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin

echo "== buf lint"
"$bin/buf" lint
echo "== ruff"
"$bin/ruff" check .
"$bin/ruff" format --check .
echo "== mypy"
"$bin/mypy" common services gateway cli clients/python/layers_partner
echo "== pytest"
"$bin/pytest" "$@"
