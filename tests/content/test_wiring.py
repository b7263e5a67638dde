"""The wiring chain's rules on plain values, no database: who is on camera, or which link is broken."""

from __future__ import annotations

import grpc
import pytest

from common.errors import ServiceError
from services.content import wiring
from services.content.wiring import OnCamera, Person, WiredLayer

ANA = Person("inf_ana", "es", "warm")
BEN = Person("inf_ben", "en", "bright")


def reason(exc: pytest.ExceptionInfo[ServiceError]) -> str:
    assert exc.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert exc.value.metadata == {"format": "ugc-remix"}
    return exc.value.reason


def test_the_first_content_layer_in_wiring_order_anchors_the_account() -> None:
    layers = [
        WiredLayer("lyr_music", "music", None),
        WiredLayer("lyr_a", "content", "inf_ana"),
        WiredLayer("lyr_b", "content", None),
    ]
    assert wiring.account_content_layer(layers) == layers[1]


@pytest.mark.parametrize(
    ("layers", "broken"),
    [([], "ACCOUNT_NOT_WIRED"), ([WiredLayer("lyr_music", "music", "inf_ana")], "NO_CONTENT_LAYER_WIRED")],
)
def test_an_account_without_a_content_layer_is_a_wiring_error(layers: list[WiredLayer], broken: str) -> None:
    with pytest.raises(ServiceError) as refused:
        wiring.account_content_layer(layers)
    assert reason(refused) == broken
    assert refused.value.message.startswith(f"{broken}: ")


def test_the_named_influencer_wins_over_the_wired_one() -> None:
    layer = WiredLayer("lyr_a", "content", "inf_ana")
    assert wiring.through_account("soc_1", layer, None, ANA) == OnCamera("inf_ana", "es", "warm", "lyr_a", "soc_1")
    assert wiring.through_account("soc_1", layer, BEN, ANA) == OnCamera("inf_ben", "en", "bright", "lyr_a", "soc_1")
    assert wiring.through_account("soc_1", WiredLayer("lyr_b", "content", None), BEN, None).influencer_id == "inf_ben"


def test_a_content_layer_without_an_influencer_is_a_wiring_error() -> None:
    with pytest.raises(ServiceError) as refused:
        wiring.through_account("soc_1", WiredLayer("lyr_b", "content", None), None, None)
    assert reason(refused) == "INFLUENCER_NOT_WIRED"


def test_an_influencer_named_alone_needs_a_content_layer_it_drives() -> None:
    assert wiring.by_influencer(ANA, "lyr_a") == OnCamera("inf_ana", "es", "warm", "lyr_a", None)
    with pytest.raises(ServiceError) as refused:
        wiring.by_influencer(ANA, None)
    assert reason(refused) == "NO_CONTENT_LAYER_WIRED"
