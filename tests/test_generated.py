"""What is generated and committed is fresh: openapi.json is the gateway's document, the Python SDK's models
come from it and its sync client from its async one. Pure checks (no system started), so the everyday loop
runs them too."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from layers_partner import errors, models

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients" / "python"))
from gen_models import generate_models
from gen_sync import generate_sync

ROOT = Path(__file__).resolve().parent.parent


def committed() -> dict[str, Any]:
    return dict(json.loads((ROOT / "openapi.json").read_text()))


def test_openapi_json_the_python_models_and_the_sync_client_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_openapi.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_sync_client_is_the_async_one_without_asyncio() -> None:
    source = (ROOT / "clients" / "python" / "layers_partner" / "aio.py").read_text()
    sync = generate_sync(source)
    assert "await " not in sync and "async def" not in sync and "class Client:" in sync
    for unconverted in ("asyncio.gather()", "anext(pages)", "response.aiter_lines()", "contextlib.aclosing(x)"):
        with pytest.raises(ValueError, match="no rule"):
            generate_sync(f"{source}\n\n{unconverted}\n")


def test_only_a_loop_that_just_re_yields_becomes_yield_from() -> None:
    source = '"""Doc."""\n'
    just = "    for item in page.items:\n        yield item\n    done()\n"
    more = "    for item in page.items:\n        yield item\n        count()\n"
    assert "yield from page.items" in generate_sync(source + just)
    assert "yield from" not in generate_sync(source + more)


@pytest.mark.parametrize("change", ["new field", "field removed", "type changed", "schema removed"])
def test_a_schema_change_makes_the_models_stale(change: str) -> None:
    doc = copy.deepcopy(committed())
    asset = doc["components"]["schemas"]["Asset"]
    if change == "new field":
        asset["properties"]["frameRate"] = {"type": "number"}
    elif change == "field removed":
        del asset["properties"]["checksumSha256"]
    elif change == "type changed":
        asset["properties"]["durationMs"] = {"type": "string"}
    else:
        del doc["components"]["schemas"]["Progress"]
    assert generate_models(doc) != generate_models(committed())


def test_every_schema_has_a_model_reading_its_fields() -> None:
    schemas = committed()["components"]["schemas"]
    assert set(schemas) <= set(models.SCHEMAS)
    for name, schema in schemas.items():
        aliases = {field.alias for field in models.SCHEMAS[name].model_fields.values()}
        assert aliases == set(schema.get("properties", {})), name


def test_every_error_code_has_its_exception_class() -> None:
    assert set(models.ERROR_CODES) == set(errors.ERRORS)
    for code, cls in errors.ERRORS.items():
        assert cls.code == code and issubclass(cls, errors.ApiError)
