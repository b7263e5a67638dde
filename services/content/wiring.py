"""Who is on camera, by the wiring chain's rules, apart from how the chain is stored: a social account →
its first wired *content* layer (by wiring order) → that layer's influencer, unless the request names one;
or an influencer named alone → the first content layer it drives. Each broken link is the contract's
FAILED_PRECONDITION wiring error. `services/content/ugc_remix.py` reads the rows and asks these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from common.errors import ServiceError

FORMAT = "ugc-remix"


@dataclass(frozen=True)
class OnCamera:
    """The resolved wiring chain: who is on camera and which content layer anchors the container."""

    influencer_id: str
    language: str
    voice: str
    layer_id: str
    social_account_id: str | None


@dataclass(frozen=True)
class Person:
    """An influencer as the chain needs it."""

    influencer_id: str
    language: str
    voice: str


@dataclass(frozen=True)
class WiredLayer:
    layer_id: str
    kind: str  # "content" or another layer kind
    influencer_id: str | None


def wiring_error(reason: str, message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, reason, f"{reason}: {message}", {"format": FORMAT})


def account_content_layer(layers: Sequence[WiredLayer]) -> WiredLayer:
    """The first content layer among an account's wired layers (in wiring order)."""
    if not layers:
        raise wiring_error("ACCOUNT_NOT_WIRED", "the social account is not wired to any layer.")
    for layer in layers:
        if layer.kind == "content":
            return layer
    raise wiring_error("NO_CONTENT_LAYER_WIRED", "the social account is not wired to a content layer.")


def through_account(account_id: str, layer: WiredLayer, named: Person | None, wired: Person | None) -> OnCamera:
    """On camera for a start naming a social account: the influencer the request names wins over the one
    the account's content layer carries (`wired`, None when the layer has none)."""
    person = named or wired
    if person is None:
        raise wiring_error("INFLUENCER_NOT_WIRED", "the account's content layer has no influencer.")
    return OnCamera(person.influencer_id, person.language, person.voice, layer.layer_id, account_id)


def by_influencer(person: Person, driven_layer_id: str | None) -> OnCamera:
    """On camera for a start naming only an influencer: it, on the first content layer it drives."""
    if driven_layer_id is None:
        raise wiring_error("NO_CONTENT_LAYER_WIRED", "the influencer drives no content layer.")
    return OnCamera(person.influencer_id, person.language, person.voice, driven_layer_id, None)
