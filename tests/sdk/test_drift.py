"""The committed openapi.json (the SDKs' source, checked fresh in tests/test_generated.py) is what a running
gateway serves."""

from __future__ import annotations

import json

import httpx

from tests.sdk.conftest import ROOT, Dev


def test_the_committed_document_is_what_the_running_gateway_serves(dev: Dev) -> None:
    assert httpx.get(f"{dev.base_url}/openapi.json").json() == json.loads((ROOT / "openapi.json").read_text())
