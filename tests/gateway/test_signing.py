"""UrlSigner: signed, expiring asset URLs, and the secret kept under data_dir."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from common.settings import Settings
from gateway.signing import SECRET_FILE, UrlSigner, load_or_create_secret

NOW = 1_776_513_851.0
ORG = "org_01HZX3AAAAAAAAAAAAAAAAAAAA"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _parts(url: str) -> tuple[str, str, str, str]:
    split = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    assert list(query) == ["org", "expires", "signature"]
    return split.path, query["org"], query["expires"], query["signature"]


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def signer(clock: Clock) -> UrlSigner:
    return UrlSigner(b"s" * 32, base_url="https://api.example.test/", ttl_seconds=3600, clock=clock)


def test_urls_have_the_contract_shape(signer: UrlSigner) -> None:
    url = signer.asset_file_url(ORG, "cnt_1", "ast_1")
    assert url.startswith(f"https://api.example.test/v1/content/cnt_1/assets/ast_1/file?org={ORG}&expires=")
    assert "&signature=" in url
    thumb = signer.asset_thumbnail_url(ORG, "cnt_1", "ast_1")
    assert urlsplit(thumb).path == "/v1/content/cnt_1/assets/ast_1/thumbnail"


def test_round_trip(signer: UrlSigner) -> None:
    path, org, expires, signature = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    assert org == ORG
    assert signer.verify(path, org, expires, signature)
    assert signer.verify(path, org, int(expires), signature.upper())


def test_expiry_is_at_least_ttl_and_stable_within_a_step(signer: UrlSigner, clock: Clock) -> None:
    first = signer.asset_file_url(ORG, "cnt_1", "ast_1")
    _, _, expires, _ = _parts(first)
    assert NOW + 3600 <= int(expires) < NOW + 3600 + 300
    clock.now += 1
    assert signer.asset_file_url(ORG, "cnt_1", "ast_1") == first  # same URL between polls


@pytest.mark.parametrize("what", ["path", "other_asset", "thumbnail", "org", "expires", "signature"])
def test_tampering_breaks_it(signer: UrlSigner, what: str) -> None:
    path, org, expires, signature = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    if what == "path":
        path = path.replace("cnt_1", "cnt_2")
    elif what == "other_asset":
        path = path.replace("ast_1", "ast_2")
    elif what == "thumbnail":
        path = path.replace("/file", "/thumbnail")
    elif what == "org":
        org = "org_01HZX3BBBBBBBBBBBBBBBBBBBB"
    elif what == "expires":
        expires = str(int(expires) + 3600)
    else:
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert signer.verify(*_parts(signer.asset_file_url(ORG, "cnt_1", "ast_1")))
    assert not signer.verify(path, org, expires, signature)


@pytest.mark.parametrize("signature", ["", "zz" * 32, "é" * 64, "ab" * 33])
def test_malformed_signature_is_refused_not_an_error(signer: UrlSigner, signature: str) -> None:
    path, org, expires, _ = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    assert not signer.verify(path, org, expires, signature)


@pytest.mark.parametrize("org", ["", "org\n1", "org 1", "o" * 65])
def test_org_must_be_id_shaped(signer: UrlSigner, org: str) -> None:
    with pytest.raises(ValueError):
        signer.sign("/v1/content/cnt_1/assets/ast_1/file", org)
    path, _, expires, signature = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    assert not signer.verify(path, org, expires, signature)


@pytest.mark.parametrize("expires", ["", "-1", "12a", "1e9", "9" * 40])
def test_malformed_expiry_is_refused(signer: UrlSigner, expires: str) -> None:
    path, org, _, signature = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    assert not signer.verify(path, org, expires, signature)


def test_expired_url_is_refused(signer: UrlSigner, clock: Clock) -> None:
    parts = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    clock.now = int(parts[2])
    assert signer.verify(*parts)  # valid through its last second
    clock.now = int(parts[2]) + 1
    assert not signer.verify(*parts)


def test_another_secret_does_not_verify(signer: UrlSigner, clock: Clock) -> None:
    parts = _parts(signer.asset_file_url(ORG, "cnt_1", "ast_1"))
    assert not UrlSigner(b"t" * 32, clock=clock).verify(*parts)


def test_too_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        UrlSigner(b"short")


def test_secret_is_created_once_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "nested" / SECRET_FILE
    first = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    assert len(first) == 64
    assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE]  # no temp file left behind


def test_from_settings_keeps_urls_valid_across_restarts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_secret=None, public_base_url="")
    url = UrlSigner.from_settings(settings).asset_file_url(ORG, "cnt_1", "ast_1")
    assert url.startswith("/v1/content/cnt_1/assets/ast_1/file?")
    assert UrlSigner.from_settings(settings).verify(*_parts(url))
    assert (tmp_path / SECRET_FILE).exists()


def test_configured_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, signing_secret="a-configured-secret-of-some-length")
    url = UrlSigner.from_settings(settings).asset_file_url(ORG, "cnt_1", "ast_1")
    assert UrlSigner(b"a-configured-secret-of-some-length").verify(*_parts(url))
    assert not (tmp_path / SECRET_FILE).exists()
