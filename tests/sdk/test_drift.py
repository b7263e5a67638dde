"""openapi.json is the live gateway's document, and the SDKs are generated from it: a schema that changes
without them fails here."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from layers_partner import errors, models
from tests.sdk.conftest import ROOT, Dev

sys.path.insert(0, str(ROOT / "clients" / "python"))
from gen_models import generate_models
from gen_sync import generate_sync


def committed() -> dict[str, Any]:
    return dict(json.loads((ROOT / "openapi.json").read_text()))


def test_openapi_json_and_the_python_models_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_openapi.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_committed_document_is_what_the_running_gateway_serves(dev: Dev) -> None:
    assert httpx.get(f"{dev.base_url}/openapi.json").json() == committed()


def test_the_sync_client_is_the_async_one_without_asyncio() -> None:
    source = (ROOT / "clients" / "python" / "layers_partner" / "aio.py").read_text()
    sync = generate_sync(source)
    assert "await " not in sync and "async def" not in sync and "class Client:" in sync
    with pytest.raises(ValueError, match="no rule"):
        generate_sync(source + "\n\nasyncio.gather()\n")


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
