"""Write the gateway's OpenAPI document to openapi.json, the Python SDK's models generated from it, and the
SDK's sync client generated from its async one.

Usage: python scripts/gen_openapi.py [--check]

The document is the one the gateway serves at /openapi.json, built from the code with default settings
(no LAYERS_* variable changes it). The TypeScript SDK's types are generated from the same file
(`npm run generate` in clients/typescript). --check writes nothing and exits 1 when a file is stale.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "openapi.json"
SDK = ROOT / "clients" / "python"
MODELS = SDK / "layers_partner" / "models.py"
ASYNC_CLIENT = SDK / "layers_partner" / "aio.py"
SYNC_CLIENT = SDK / "layers_partner" / "client.py"


def document() -> dict[str, Any]:
    """The live gateway's document, from its code: no service is reached to build it."""
    for name in [n for n in os.environ if n.startswith("LAYERS_")]:
        del os.environ[name]
    sys.path[:0] = [str(ROOT)]
    from common.settings import Settings
    from gateway.app import create_app

    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=Path(data), signing_secret="x" * 32))
        return app.openapi()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def formatted(source: str, name: str) -> str:
    """Python source as ruff's import sort and format leave it (the repository's style), so the check compares
    like with like."""
    for step in (["check", "--select", "I", "--fix", "--quiet"], ["format"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *step, "--stdin-filename", name, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"ruff {step[0]} failed on the generated {name}: {done.stderr.strip()}")
        source = done.stdout
    return source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is stale")
    args = parser.parse_args()
    sys.path[:0] = [str(SDK)]
    from gen_models import generate_models
    from gen_sync import generate_sync

    doc = document()
    wanted = {
        OPENAPI: render(doc),
        MODELS: formatted(generate_models(doc), str(MODELS.relative_to(ROOT))),
        SYNC_CLIENT: formatted(generate_sync(ASYNC_CLIENT.read_text()), str(SYNC_CLIENT.relative_to(ROOT))),
    }
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run python scripts/gen_openapi.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
