"""The README's receiver code, run as written against real signed deliveries: the Python `verify`, the
TypeScript one (under node, its type annotations stripped: the node here predates type stripping), and
the local receiver a `layers dev` user starts."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from layers.webhooks.v1 import webhooks_pb2 as pb
from tests.support.receiver import Received, receiver
from tests.webhooks.conftest import ORG, webhooks_service

README = Path(__file__).resolve().parents[2] / "README.md"
# The TypeScript the verify snippet uses beyond JavaScript; anything else left makes node fail loudly.
TYPE_ANNOTATIONS = re.compile(r": (?:string|Buffer|boolean|number)\b| as \[string, string\]")


def _block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)
    [block] = [b for b in blocks if containing in b]
    return block


@pytest.fixture
def delivery(tmp_path: Path, sqlite_url: str) -> tuple[str, Received]:
    with webhooks_service(tmp_path, sqlite_url) as service, receiver() as hook:
        created = service.endpoint(hook.url, ["test.ping"])
        service.stub.SendTestEvent(
            pb.SendTestEventRequest(organization_id=ORG, endpoint_id=created.endpoint.endpoint_id)
        )
        [received] = hook.wait_for(1)
        return created.signing_secret, received


def test_the_python_verify_accepts_a_real_delivery_and_nothing_else(delivery: tuple[str, Received]) -> None:
    secret, received = delivery
    namespace: dict[str, Any] = {}
    exec(_block("python", "def verify("), namespace)
    verify = namespace["verify"]
    header = received.headers["x-layers-signature"]
    assert verify(secret, header, received.body)
    assert not verify("whsec_other", header, received.body)
    assert not verify(secret, header, received.body + b" ")


def test_the_typescript_verify_accepts_a_real_delivery_and_nothing_else(
    delivery: tuple[str, Received], tmp_path: Path
) -> None:
    node = shutil.which("node")
    assert node, "node is needed to run the README's TypeScript"
    secret, received = delivery
    (tmp_path / "verify.mjs").write_text(TYPE_ANNOTATIONS.sub("", _block("ts", "export function verify(")))
    (tmp_path / "check.mjs").write_text(
        'import { verify } from "./verify.mjs";\n'
        "const [secret, header, body] = JSON.parse(process.argv[2]);\n"
        'const raw = Buffer.from(body, "base64");\n'
        "console.log(JSON.stringify([verify(secret, header, raw), verify('whsec_other', header, raw),"
        " verify(secret, header, Buffer.concat([raw, Buffer.from(' ')]))]));\n"
    )
    argument = json.dumps([secret, received.headers["x-layers-signature"], base64.b64encode(received.body).decode()])
    done = subprocess.run(
        [node, str(tmp_path / "check.mjs"), argument], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [True, False, False]


def test_the_local_receiver_checks_what_layers_dev_sends(tmp_path: Path, sqlite_url: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = _block("python", "def verify(") + _block("python", "HTTPServer(").replace("9000", str(port))
    (tmp_path / "receiver.py").write_text(script)
    with webhooks_service(tmp_path, sqlite_url) as service:
        created = service.endpoint(f"http://localhost:{port}/hooks", ["test.ping"])
        hook = subprocess.Popen(
            [sys.executable, "-u", str(tmp_path / "receiver.py"), created.signing_secret],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(1.0)  # listening
            sent = service.stub.SendTestEvent(
                pb.SendTestEventRequest(organization_id=ORG, endpoint_id=created.endpoint.endpoint_id)
            ).delivery
            assert hook.stdout is not None
            line = hook.stdout.readline()
        finally:
            hook.terminate()
            hook.wait(10)
    assert line.startswith(f"{sent.event_id} signature ok "), line
    assert json.loads(line.split(" ", 3)[3])["type"] == "test.ping"
