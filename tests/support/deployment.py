"""Checks that deployment files (docker-compose.yml, deploy/k8s) name only what the code has: LAYERS_*
variables that are settings, `layers` commands the CLI parses, and the image's data folder."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from cli.main import build_parser
from common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTING_FIELDS = set(Settings.model_fields)
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def setting_of(variable: str, where: str) -> str:
    """The settings field a LAYERS_* environment variable sets; fails naming `where` when there is none."""
    assert variable.startswith("LAYERS_"), f"{where}: {variable}"
    field = variable.removeprefix("LAYERS_").lower()
    assert field in SETTING_FIELDS, f"{where}: {variable} is not a setting"
    return field


def parse_command(args: list[str]) -> argparse.Namespace:
    """`layers <args>` as the CLI parses it (argparse exits on anything it does not know)."""
    return build_parser().parse_args(args)


def image_env(name: str) -> str:
    """An ENV the Dockerfile sets for every container of the image."""
    match = re.search(rf"^ENV .*\b{name}=(\S+)", DOCKERFILE, re.MULTILINE)
    assert match, f"the Dockerfile sets no {name}"
    return match.group(1)


def image_uid() -> int:
    """The uid the image runs as (its `useradd --uid`)."""
    match = re.search(r"useradd .*--uid (\d+)", DOCKERFILE)
    assert match, "the Dockerfile creates no user"
    return int(match.group(1))
