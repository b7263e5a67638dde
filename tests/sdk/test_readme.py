"""The README's "Use it from code" snippets, run as written against a live `layers dev`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.sdk.conftest import EXAMPLES, SDK, Dev

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.sdk


def _block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)
    [block] = [b for b in blocks if containing in b]
    assert len(block.splitlines()) < 15, "the README promises it in under 15 lines"
    return block


def test_the_python_snippet_downloads_a_remix(dev: Dev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERS_API_KEY", dev.api_key)
    monkeypatch.setenv("LAYERS_BASE_URL", dev.base_url)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"project_id": dev.demo["projectId"], "influencer_id": dev.demo["influencerId"]}
    exec(_block("python", "from layers_partner import Client"), namespace)
    assert (tmp_path / "remix.mp4").stat().st_size > 0
    assert namespace["video"].url.startswith(dev.base_url + "/v1/content/")


def test_the_typescript_snippet_downloads_a_remix(node: str, dev: Dev, tmp_path: Path) -> None:
    source = tmp_path / "snippet.mts"
    source.write_text(
        "declare const process: { env: Record<string, string> };\n"
        "const projectId = process.env.PROJECT_ID;\nconst influencerId = process.env.INFLUENCER_ID;\n"
        + _block("ts", "@layers/partner")
        + "export {};\n"
    )
    (tmp_path / "node_modules").symlink_to(EXAMPLES / "node_modules")
    tsc = [node, str(SDK / "node_modules/typescript/bin/tsc"), "--strict", "--skipLibCheck", "--outDir", "out"]
    options = ["--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node"]
    roots = ["--typeRoots", str(SDK / "node_modules/@types")]
    built = subprocess.run([*tsc, *options, *roots, str(source)], cwd=tmp_path, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    env = {
        **os.environ,
        "LAYERS_API_KEY": dev.api_key,
        "LAYERS_BASE_URL": dev.base_url,
        "PROJECT_ID": dev.demo["projectId"],
        "INFLUENCER_ID": dev.demo["influencerId"],
    }
    done = subprocess.run(
        [node, "out/snippet.mjs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(dev.base_url + "/v1/content/")
    assert (tmp_path / "remix.mp4").stat().st_size > 0
