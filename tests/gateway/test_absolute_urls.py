"""Download links are absolute: LAYERS_PUBLIC_BASE_URL when set, else the request's own scheme and host,
with X-Forwarded-Proto and X-Forwarded-Host believed only from LAYERS_TRUSTED_PROXIES."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from common.settings import Settings, describe_invalid
from layers.content.v1 import content_pb2
from tests.gateway.conftest import LiveGateway
from tests.gateway.fakes import ALL, ASSET_ID, CONTAINER_ID, JOB_ID, ORG, PROJECT, FakeContent, asset
from tests.gateway.helpers import bearer

AUTH = bearer(ALL)
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.partner-facing.example"}


@pytest.fixture(autouse=True)
def _completed(fake_content: FakeContent) -> None:
    fake_content.containers[CONTAINER_ID] = content_pb2.Container(
        container_id=CONTAINER_ID,
        organization_id=ORG,
        project_id=PROJECT,
        job_id=JOB_ID,
        status=content_pb2.CONTAINER_STATUS_COMPLETED,
        assets=[asset()],
    )
    job = fake_content.jobs[JOB_ID]
    job.status = content_pb2.JOB_STATUS_COMPLETED
    job.assets.append(asset())


def _origins(gateway: LiveGateway, headers: dict[str, str] | None = None) -> set[str]:
    """The origin of every link the container, the asset and the job hand out."""
    links: list[str] = []
    with httpx.Client(base_url=gateway.base_url, headers={**AUTH, **(headers or {})}) as http:
        container = http.get(f"/v1/content/{CONTAINER_ID}").json()
        links += [container["preview"]["videoUrl"], container["preview"]["thumbnailUrl"]]
        links += [a[key] for a in container["assets"] for key in ("url", "thumbnailUrl")]
        one = http.get(f"/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}").json()
        links += [one["url"], one["thumbnailUrl"]]
        job = http.get(f"/v1/jobs/{JOB_ID}").json()
        links += [a["url"] for a in job["result"]["assets"]]
    assert len(links) == 7
    return {f"{urlsplit(link).scheme}://{urlsplit(link).netloc}" for link in links}


def test_without_a_base_url_links_start_with_the_address_the_partner_called(
    start_gateway: Callable[..., LiveGateway],
) -> None:
    gateway = start_gateway(public_base_url="")
    assert _origins(gateway) == {gateway.base_url}
    assert _origins(gateway, {"Host": "gateway.internal:8443"}) == {"http://gateway.internal:8443"}


def test_a_link_built_from_the_request_carries_a_signature_that_holds(
    start_gateway: Callable[..., LiveGateway],
) -> None:
    gateway = start_gateway(public_base_url="")
    with httpx.Client(headers=AUTH) as http:
        url = urlsplit(http.get(f"{gateway.base_url}/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}").json()["url"])
    query = dict(part.split("=", 1) for part in url.query.split("&"))
    assert gateway.signer.verify(url.path, query["org"], query["expires"], query["signature"])


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(public_base_url="", trusted_proxies="10.0.0.0/8, 192.168.1.7")
    assert _origins(gateway, FORWARDED) == {gateway.base_url}


def test_forwarded_headers_from_a_trusted_proxy_name_the_origin(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(public_base_url="", trusted_proxies="10.0.0.0/8,127.0.0.1")
    assert _origins(gateway, FORWARDED) == {"https://api.partner-facing.example"}
    # Appended lists: the nearest proxy's value (the last) counts.
    chained = {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.example, api.partner-facing.example"}
    assert _origins(gateway, chained) == {"https://api.partner-facing.example"}
    # A value that is no scheme or host is ignored, not linked to.
    junk = {"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "a.example/path?x=1"}
    assert _origins(gateway, junk) == {gateway.base_url}


def test_the_base_url_wins_over_everything(start_gateway: Callable[..., LiveGateway]) -> None:
    gateway = start_gateway(public_base_url="https://cdn.example.com/layers/", trusted_proxies="127.0.0.0/8")
    assert _origins(gateway, FORWARDED) == {"https://cdn.example.com"}
    with httpx.Client(headers=AUTH) as http:
        url = http.get(f"{gateway.base_url}/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}").json()["url"]
    assert url.startswith(f"https://cdn.example.com/layers/v1/content/{CONTAINER_ID}/assets/{ASSET_ID}/file?")


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("public_base_url", "api.example.com", "LAYERS_PUBLIC_BASE_URL: must be an absolute http or https URL"),
        ("public_base_url", "ftp://api.example.com", "LAYERS_PUBLIC_BASE_URL: must be an absolute http or https URL"),
        ("public_base_url", "https://api.example.com?x=1", "LAYERS_PUBLIC_BASE_URL: must be an absolute"),
        ("public_base_url", "https://api.example.com:http", "LAYERS_PUBLIC_BASE_URL: must be an absolute"),
        ("trusted_proxies", "10.0.0.0/8,proxy.internal", "LAYERS_TRUSTED_PROXIES: 'proxy.internal' is not an IP"),
        ("trusted_proxies", "10.0.0.0/33", "LAYERS_TRUSTED_PROXIES: '10.0.0.0/33' is not an IP"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(variable: str, value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{variable: value})
    [line] = describe_invalid(refused.value).splitlines()
    assert line.startswith(problem), line


def test_good_settings_are_taken() -> None:
    settings = Settings(public_base_url="https://api.example.com/", trusted_proxies=" 10.0.0.0/8 , ::1 ")
    assert settings.public_base_url == "https://api.example.com"
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.0.0.0/8", "::1/128"]
