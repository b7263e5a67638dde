"""One `layers dev` (a real process on free ports) for the SDKs' suites and the examples."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dev_crash import layers_dev
from tests.support.http_fault_proxy import FaultProxy


@dataclass(frozen=True)
class Dev:
    base_url: str
    demo: dict[str, Any]
    data: Path

    @property
    def api_key(self) -> str:
        return str(self.demo["apiKey"])


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = tmp_path_factory.mktemp("sdk-dev")
    (root / "tmp").mkdir()
    with layers_dev(root / "data", root / "tmp", root / "layers-dev.log") as (_process, client, demo):
        yield Dev(str(client.base_url).rstrip("/"), demo, root / "data")


@pytest.fixture
def proxy(dev: Dev) -> Iterator[FaultProxy]:
    with FaultProxy(dev.base_url).running() as running:
        yield running
