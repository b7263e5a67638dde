"""Every process refuses a configuration it cannot work with at start-up: one line naming the variable,
exit status 2, no traceback, within seconds. Real `layers` processes, real bad values."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from common import preflight
from common.settings import ConfigError, Settings
from services.renderer import fonts

LAYERS = str(Path(sys.executable).parent / "layers")
SOCKET_OF = "postgresql+psycopg://postgres@127.0.0.1:{port}/test"


def closed_port() -> int:
    """A loopback port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refusal(tmp_path: Path, command: list[str], **env: str) -> str:
    """Run `layers COMMAND` with env on top of a clean LAYERS_* environment; its one line of refusal."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAYERS_")}
    clean.update(LAYERS_DATA_DIR=str(tmp_path), LAYERS_CONTENT_ADDR=f"127.0.0.1:{closed_port()}", **env)
    began = time.monotonic()
    done = subprocess.run([LAYERS, *command], env=clean, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - began < 20  # checks are bounded by seconds, not by a client's retry loop
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("content", "LAYERS_CONTENT_DB_URL"),
        ("media", "LAYERS_MEDIA_DB_URL"),
        ("billing", "LAYERS_BILLING_DB_URL"),
    ],
)
def test_an_unreachable_database_is_named(tmp_path: Path, service: str, variable: str) -> None:
    env = {variable: SOCKET_OF.format(port=closed_port()), "LAYERS_AMQP_URL": f"amqp://127.0.0.1:{closed_port()}/"}
    line = refusal(tmp_path, ["serve", service], **env)
    assert line.startswith(f"layers: {variable}: cannot connect to postgresql+psycopg://postgres@127.0.0.1:"), line
    assert "Connection refused" in line


def test_a_database_password_is_not_printed(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres:hunter2-secret@127.0.0.1:{closed_port()}/test"
    line = refusal(
        tmp_path,
        ["serve", "webhooks"],
        LAYERS_WEBHOOKS_DB_URL=url,
        LAYERS_AMQP_URL="amqp://127.0.0.1:1/",
        LAYERS_WEBHOOK_SECRET_KEY="a-long-enough-webhook-key",
    )
    assert line.startswith("layers: LAYERS_WEBHOOKS_DB_URL: cannot connect to postgresql+psycopg://postgres:***@")
    assert "hunter2" not in line


def test_a_url_that_is_no_database_url_is_named(tmp_path: Path) -> None:
    line = refusal(tmp_path, ["serve", "billing"], LAYERS_BILLING_DB_URL="localhost:5432")
    assert line == "layers: LAYERS_BILLING_DB_URL: is not a database URL"


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_named(tmp_path: Path, pg_url: str) -> None:
    missing = pg_url.rpartition("/")[0] + "/layers_no_such_database"
    line = refusal(tmp_path, ["serve", "billing"], LAYERS_BILLING_DB_URL=missing)
    assert line.startswith("layers: LAYERS_BILLING_DB_URL: cannot connect to") and "does not exist" in line


@pytest.mark.parametrize("service", ["content", "webhooks", "renderer"])
def test_an_unreachable_broker_is_named(tmp_path: Path, service: str) -> None:
    port = closed_port()
    line = refusal(
        tmp_path,
        ["serve", service],
        LAYERS_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}/",
        LAYERS_WEBHOOK_SECRET_KEY="a-long-enough-webhook-key",
    )
    assert line == f"layers: LAYERS_AMQP_URL: RabbitMQ at 127.0.0.1:{port} is not reachable (connection refused)"


@pytest.mark.rabbitmq
def test_a_broker_refusing_the_password_is_named(tmp_path: Path, amqp_url: str) -> None:
    wrong = amqp_url.replace("guest:guest@", "guest:not-the-password@")
    line = refusal(tmp_path, ["serve", "renderer"], LAYERS_AMQP_URL=wrong)
    assert line == "layers: LAYERS_AMQP_URL: RabbitMQ at 127.0.0.1:5672 refused the user name or password"


def test_a_missing_broker_is_named(tmp_path: Path) -> None:
    line = refusal(tmp_path, ["serve", "renderer"])
    assert line == "layers: LAYERS_AMQP_URL: is required to run renderer on its own"


def test_an_unreachable_redis_is_named(tmp_path: Path) -> None:
    port = closed_port()
    line = refusal(tmp_path, ["serve", "gateway"], LAYERS_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert line.startswith("layers: LAYERS_REDIS_URL: Redis does not answer:") and str(port) in line


@pytest.mark.parametrize(
    ("service", "variable"), [("gateway", "LAYERS_SIGNING_SECRET"), ("webhooks", "LAYERS_WEBHOOK_SECRET_KEY")]
)
def test_a_short_secret_is_named(tmp_path: Path, service: str, variable: str) -> None:
    line = refusal(tmp_path, ["serve", service], **{variable: "too-short"})
    assert line == f"layers: {variable}: String should have at least 16 characters"


@pytest.mark.parametrize(("service", "variable"), [("media", "LAYERS_FFMPEG"), ("media", "LAYERS_FFPROBE")])
def test_a_missing_ffmpeg_or_ffprobe_is_named(tmp_path: Path, service: str, variable: str) -> None:
    line = refusal(tmp_path, ["serve", service], **{variable: str(tmp_path / "bin" / "nothing-here")})
    assert line == f"layers: {variable}: cannot run {tmp_path}/bin/nothing-here: no such executable"


def test_an_ffmpeg_that_does_not_run_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    line = refusal(tmp_path, ["serve", "renderer"], LAYERS_FFMPEG=str(fake), LAYERS_AMQP_URL="amqp://127.0.0.1:1/")
    assert line == f"layers: LAYERS_FFMPEG: {fake} -version exited with 3"


def test_an_emoji_font_that_is_not_there_is_named(tmp_path: Path) -> None:
    line = refusal(tmp_path, ["serve", "renderer"], LAYERS_EMOJI_FONT=str(tmp_path / "emoji.ttf"))
    assert line == f"layers: LAYERS_EMOJI_FONT: no font file at {tmp_path}/emoji.ttf"


def test_a_font_dir_that_is_not_a_folder_is_named(tmp_path: Path) -> None:
    line = refusal(tmp_path, ["serve", "renderer"], LAYERS_FONT_DIR=str(tmp_path / "fonts"))
    assert line == f"layers: LAYERS_FONT_DIR: no folder at {tmp_path}/fonts"


def test_the_renderers_tools_and_fonts_are_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emoji = tmp_path / "emoji.ttf"
    emoji.write_bytes(b"")
    values = {"FFMPEG": "/opt/ffmpeg", "FFPROBE": "ffprobe", "FONT_DIR": str(tmp_path), "EMOJI_FONT": str(emoji)}
    for name, value in values.items():
        monkeypatch.setenv(f"LAYERS_{name}", value)
    settings = Settings()
    assert (settings.ffmpeg, settings.ffprobe, settings.font_dir, settings.emoji_font) == (
        "/opt/ffmpeg",
        "ffprobe",
        tmp_path,
        emoji,
    )
    for name in values:
        monkeypatch.setenv(f"LAYERS_{name}", "")  # as compose files write "unset"
    settings = Settings()
    assert (settings.ffmpeg, settings.ffprobe, settings.font_dir, settings.emoji_font) == (None, None, None, None)


def test_a_setting_gone_bad_after_the_start_fails_a_render_as_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The font lookups read the settings when first asked, mid-render: a bad value is the ConfigError the
    renderer fails the job with (RENDERER_MISCONFIGURED), naming the variable."""
    monkeypatch.setenv("LAYERS_FONT_DIR", str(tmp_path / "gone"))
    fonts.text_faces.cache_clear()
    try:
        with pytest.raises(ConfigError) as raised:
            fonts.text_faces()
    finally:
        monkeypatch.delenv("LAYERS_FONT_DIR")
        fonts.text_faces.cache_clear()
    assert (raised.value.variable, str(raised.value)) == (
        "LAYERS_FONT_DIR",
        f"LAYERS_FONT_DIR: no folder at {tmp_path}/gone",
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LAYERS_AMQP_URL": "amqp://guest:guest@127.0.0.1:{port}/"}, "LAYERS_AMQP_URL"),
        ({"LAYERS_REDIS_URL": "redis://127.0.0.1:{port}/0"}, "LAYERS_REDIS_URL"),
        ({"LAYERS_CONTENT_DB_URL": SOCKET_OF}, "LAYERS_CONTENT_DB_URL"),
        ({"LAYERS_FFPROBE": "/nonexistent/ffprobe"}, "LAYERS_FFPROBE"),
    ],
)
def test_layers_dev_checks_what_it_is_configured_with(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    port = closed_port()
    line = refusal(tmp_path, ["dev", "--port", str(closed_port())], **{k: v.format(port=port) for k, v in env.items()})
    assert line.startswith(f"layers: {variable}: "), line
    assert not (tmp_path / "demo.json").exists()  # nothing was started or seeded


def test_missing_text_fonts_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No folder holds the faces: in-process, since the package's own folder cannot be hidden by a variable."""
    monkeypatch.setattr(fonts, "package_font_dir", lambda: None)
    monkeypatch.setattr(fonts, "DEBIAN_NOTO_DIR", tmp_path / "debian")
    monkeypatch.setenv("LAYERS_FONT_DIR", str(tmp_path))
    monkeypatch.setenv("LAYERS_DATA_DIR", str(tmp_path))
    fonts.text_faces.cache_clear()
    try:
        assert main(["serve", "renderer"]) == 2
    finally:
        fonts.text_faces.cache_clear()
    line = capsys.readouterr().err.strip()
    assert line.startswith("layers: LAYERS_FONT_DIR: font 'Noto Sans' not found") and "\n" not in line


def test_a_missing_colour_emoji_font_only_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fonts, "DEBIAN_NOTO_DIR", tmp_path)
    monkeypatch.delenv("LAYERS_EMOJI_FONT", raising=False)
    fonts.emoji_face.cache_clear()
    settings = Settings(data_dir=tmp_path, amqp_url=None)
    try:
        with caplog.at_level(logging.WARNING, "layers.renderer"):
            for _ in range(2):
                with pytest.raises(ConfigError, match="LAYERS_AMQP_URL"):  # fonts passed: the next check speaks
                    preflight.check("renderer", settings)
        face = fonts.emoji_face()
    finally:
        fonts.emoji_face.cache_clear()
    warnings = [r.getMessage() for r in caplog.records if "colour emoji font not found" in r.getMessage()]
    assert len(warnings) == 1 and "monochrome" in warnings[0]
    assert face.is_emoji and not face.bitmap and face.path.name == "NotoEmoji[wght].ttf"


def test_a_fresh_data_dir_is_a_normal_first_start(tmp_path: Path) -> None:
    """The SQLite default in a data dir that does not exist yet: the check makes the folder, not a refusal."""
    from tests.support.processes import ServiceProcess, clean_environment, free_port, grpc_serving

    address = f"127.0.0.1:{free_port()}"
    env = clean_environment(LAYERS_DATA_DIR=str(tmp_path / "new" / "data"), LAYERS_BILLING_ADDR=address)
    billing = ServiceProcess("billing", env, tmp_path / "billing.log", grpc_serving(address))
    try:
        billing.start(60)
    finally:
        billing.stop()
    assert (tmp_path / "new" / "data" / "billing.db").exists()


def test_tls_files_that_are_not_pem_are_named(tmp_path: Path) -> None:
    from tests.support.certs import Certificates

    for folder in ("certs", "other"):
        (tmp_path / folder).mkdir()
    good = Certificates(tmp_path / "certs").issue("billing")
    other = Certificates(tmp_path / "other").issue("billing")  # another CA's pair
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    files = good.env
    line = refusal(tmp_path, ["serve", "billing"], **{**files, "LAYERS_GRPC_TLS_CA": str(junk)})
    assert line.startswith("layers: LAYERS_GRPC_TLS_CA: is not a PEM CA certificate"), line
    line = refusal(tmp_path, ["serve", "billing"], **{**files, "LAYERS_GRPC_TLS_KEY": str(other.key)})
    assert line.startswith("layers: LAYERS_GRPC_TLS_CERT: and LAYERS_GRPC_TLS_KEY are not a matching"), line


def test_a_renderers_font_paths_stop_no_other_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the processes that draw hooks check the font paths (preflight), so a shared environment naming
    a renderer's folders starts the gateway and the services as before."""
    monkeypatch.setenv("LAYERS_FONT_DIR", str(tmp_path / "fonts"))
    monkeypatch.setenv("LAYERS_EMOJI_FONT", str(tmp_path / "emoji.ttf"))
    settings = Settings()
    assert (settings.font_dir, settings.emoji_font) == (tmp_path / "fonts", tmp_path / "emoji.ttf")
    preflight.check("billing", settings.model_copy(update={"billing_db_url": f"sqlite:///{tmp_path}/b.db"}))
