"""Request-shape checks that HTTP clients cannot easily send (the HTTP server refuses some first)."""

from __future__ import annotations

import pytest

from gateway.schemas import UgcRemixBody, canonical_project_id, idempotency_key_problems, parse_body


@pytest.mark.parametrize("key", ["a", "x" * 255, " ~", "3f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"])
def test_good_idempotency_keys(key: str) -> None:
    assert idempotency_key_problems(key) == []
    assert idempotency_key_problems(None) == []


@pytest.mark.parametrize("key", ["", "x" * 256, "del\x7f", "nul\x00", "line\nbreak", "caf\u00e9", "😀"])
def test_bad_idempotency_keys(key: str) -> None:
    assert [p.field for p in idempotency_key_problems(key)] == ["Idempotency-Key"]


@pytest.mark.parametrize(
    "value",
    ["not-a-uuid", "6f1c2a4e8d3b4c5a9e7f0a1b2c3d4e5f", "{6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f}", ""],
)
def test_only_hyphenated_uuids_are_project_ids(value: str) -> None:
    assert canonical_project_id(value) is None


def test_project_ids_are_lower_cased() -> None:
    assert canonical_project_id("6F1C2A4E-8D3B-4C5A-9E7F-0A1B2C3D4E5F") == "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"


def test_deeply_nested_json_is_a_validation_problem_not_a_crash() -> None:
    body, problems = parse_body(UgcRemixBody, b"[" * 100_000 + b"]" * 100_000)
    assert body is None
    assert [p.field for p in problems] == ["body"]


def test_hook_is_counted_in_code_points() -> None:
    body, problems = parse_body(UgcRemixBody, '{"hook": "{}"}'.replace("{}", "👩‍👩‍👧‍👦" * 285).encode())
    assert problems == [] and body is not None  # 285 * 7 = 1995 code points, far more bytes
    assert len(body.hook or "") == 1995
