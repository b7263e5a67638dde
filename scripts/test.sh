#!/usr/bin/env bash
# Every check the project has: proto lint, code lint and types, then the test suite (unit and integration,
# on SQLite and on PostgreSQL and RabbitMQ). Extra arguments go to pytest. Run it via `bin/layers test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=.venv/bin

echo "== buf lint"
"$bin/buf" lint
echo "== ruff"
"$bin/ruff" check .
"$bin/ruff" format --check .
echo "== mypy"
"$bin/mypy" common services gateway cli clients/python/layers_partner bench scripts
echo "== pytest"
# A selection that leaves out the e2e tests is spread over every core: those tests each bring their own
# database schema, folders and ports. The e2e tests (whole stacks, the faults tests restarting the shared
# PostgreSQL and RabbitMQ) run in one process, so the full suite does too. `-n 0` turns it off.
workers=()
if [[ " $* " == *"not e2e"* && " $* " != *" -n"* ]]; then
  workers=(-n auto)
fi
"$bin/pytest" "${workers[@]}" "$@"
