"""`layers admin …`: operator commands over gRPC. Each prints one JSON object on stdout."""

from __future__ import annotations

import argparse
import mimetypes
import tempfile
from pathlib import Path
from typing import Any

from common.clients import Clients
from layers.billing.v1 import billing_pb2
from layers.content.v1 import content_pb2
from layers.media.v1 import media_pb2
from services.media import client as media_client
from services.media import seed_clips

ROLE_TO_KIND = {"app-demo": "demo-video", "logo": "logo", "screenshot": "screenshot", "end-card": "end-card"}
ALL_SCOPES = ["*"]


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = sub.add_parser("admin", help="operator commands against the running services (gRPC)")
    nouns = admin.add_subparsers(dest="noun", required=True, metavar="COMMAND")

    org = nouns.add_parser("org", help="organizations").add_subparsers(dest="verb", required=True)
    p = org.add_parser("create", help="create an organization, optionally with credits")
    p.add_argument("--name", required=True)
    p.add_argument("--credits", type=int, default=0, help="credits to grant at once")
    p.set_defaults(run=org_create)

    project = nouns.add_parser("project", help="projects").add_subparsers(dest="verb", required=True)
    p = project.add_parser("create", help="create a project in an organization")
    p.add_argument("--org", required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(run=project_create)

    key = nouns.add_parser("key", help="API keys").add_subparsers(dest="verb", required=True)
    p = key.add_parser("create", help="mint an API key (shown only once)")
    p.add_argument("--org", required=True)
    p.add_argument("--scopes", required=True, help="comma-separated, e.g. content:write,jobs:read or *")
    p.add_argument("--test", action="store_true", help="mint an lp_test_ key")
    p.set_defaults(run=key_create)
    p = key.add_parser("revoke", help="revoke an API key")
    p.add_argument("--key-id", required=True)
    p.set_defaults(run=key_revoke)
    p = key.add_parser(
        "recount",
        help="set the keys' running-job counters (the concurrent-job cap) to their jobs actually running",
    )
    p.add_argument("--key-id", default="", help="one key (default: every key)")
    p.set_defaults(run=key_recount)

    inf = nouns.add_parser("influencer", help="influencers").add_subparsers(dest="verb", required=True)
    p = inf.add_parser("create", help="create an influencer in a project")
    p.add_argument("--project", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--voice", required=True)
    p.add_argument("--language", required=True, help="BCP 47, e.g. en, ar, hi")
    p.set_defaults(run=influencer_create)

    layer = nouns.add_parser("layer", help="layers").add_subparsers(dest="verb", required=True)
    p = layer.add_parser("create", help="create a layer in a project")
    p.add_argument("--project", required=True)
    p.add_argument("--kind", required=True, choices=["content", "distribution"])
    p.add_argument("--name", required=True)
    p.add_argument("--influencer", default="", help="influencer a content layer drives")
    p.set_defaults(run=layer_create)

    account = nouns.add_parser("account", help="social accounts").add_subparsers(dest="verb", required=True)
    p = account.add_parser("create", help="connect a social account to a project")
    p.add_argument("--project", required=True)
    p.add_argument("--platform", required=True, choices=["tiktok", "instagram"])
    p.add_argument("--handle", required=True)
    p.set_defaults(run=account_create)

    p = nouns.add_parser("wire", help="wire a social account to a layer")
    p.add_argument("--account", required=True)
    p.add_argument("--layer", required=True)
    p.set_defaults(run=wire)

    media = nouns.add_parser("media", help="project media").add_subparsers(dest="verb", required=True)
    p = media.add_parser("add", help="upload a file to a project's media library (probed)")
    p.add_argument("--project", required=True)
    p.add_argument("--role", required=True, choices=sorted(ROLE_TO_KIND))
    p.add_argument("--file", required=True, type=Path)
    p.set_defaults(run=media_add)

    reaction = nouns.add_parser("reaction", help="the reaction-template pool").add_subparsers(
        dest="verb", required=True
    )
    p = reaction.add_parser("add", help="add a reaction clip to the pool (probed: must be a decodable video)")
    p.add_argument("--file", required=True, type=Path)
    p.add_argument("--name", help="defaults to the file name")
    p.add_argument(
        "--face-box",
        type=_face_box,
        metavar="X,Y,W,H",
        help="where the face is, as fractions of the frame (e.g. 0.25,0.2,0.5,0.35): the hook stays off it; "
        "default: found in the clip",
    )
    p.set_defaults(run=reaction_add)

    music = nouns.add_parser("music", help="the music catalog").add_subparsers(dest="verb", required=True)
    p = music.add_parser("add", help="add a track to the catalog (probed: must have an audio stream)")
    p.add_argument("--file", required=True, type=Path)
    p.add_argument("--title", required=True)
    p.set_defaults(run=music_add)

    credits = nouns.add_parser("credits", help="wallets").add_subparsers(dest="verb", required=True)
    p = credits.add_parser("grant", help="grant credits to an organization")
    p.add_argument("--org", required=True)
    p.add_argument("--credits", required=True, type=int)
    p.set_defaults(run=credits_grant)

    p = nouns.add_parser("demo", help="create a complete demo tenant and print its ids and key")
    p.add_argument("--credits", type=int, default=120 * 50)
    p.set_defaults(run=demo)


def org_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    org = clients.admin.CreateOrganization(content_pb2.CreateOrganizationRequest(name=args.name)).organization
    clients.billing.CreateWallet(billing_pb2.CreateWalletRequest(organization_id=org.organization_id))
    result: dict[str, Any] = {"organizationId": org.organization_id}
    if args.credits:
        wallet = _grant(clients, org.organization_id, args.credits)
        result.update(balance=wallet.balance, available=wallet.available)
    return result


def project_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = content_pb2.CreateProjectRequest(organization_id=args.org, name=args.name)
    return {"projectId": clients.admin.CreateProject(request).project.project_id}


def key_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    request = content_pb2.CreateApiKeyRequest(organization_id=args.org, scopes=scopes, test_mode=args.test)
    response = clients.admin.CreateApiKey(request)
    return {"keyId": response.key_id, "apiKey": response.api_key}


def key_revoke(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    clients.admin.RevokeApiKey(content_pb2.RevokeApiKeyRequest(key_id=args.key_id))
    return {"keyId": args.key_id, "revoked": True}


def key_recount(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    response = clients.admin.RecountRunningJobs(content_pb2.RecountRunningJobsRequest(key_id=args.key_id))
    return {
        "keysChecked": response.keys_checked,
        "corrections": [{"keyId": c.key_id, "counted": c.counted, "running": c.running} for c in response.corrections],
    }


def influencer_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = content_pb2.CreateInfluencerRequest(
        project_id=args.project, name=args.name, voice=args.voice, language=args.language
    )
    return {"influencerId": clients.admin.CreateInfluencer(request).influencer.influencer_id}


def layer_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = content_pb2.CreateLayerRequest(
        project_id=args.project, kind=args.kind, name=args.name, influencer_id=args.influencer
    )
    return {"layerId": clients.admin.CreateLayer(request).layer.layer_id}


def account_create(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = content_pb2.CreateSocialAccountRequest(
        project_id=args.project, platform=args.platform, handle=args.handle
    )
    account = clients.admin.CreateSocialAccount(request).social_account
    return {"socialAccountId": account.social_account_id}


def wire(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = content_pb2.WireSocialAccountRequest(social_account_id=args.account, layer_id=args.layer)
    account = clients.admin.WireSocialAccount(request).social_account
    return {"socialAccountId": account.social_account_id, "layerIds": list(account.layer_ids)}


def _upload(clients: Clients, path: Path) -> str:
    if not path.is_file():
        raise SystemExit(f"error: {path} is not a file")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return str(media_client.upload_file(clients.media, path, mime).blob_id)


def _face_box(text: str) -> media_pb2.FaceBox:
    try:
        x, y, width, height = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("four comma-separated fractions: X,Y,W,H") from None
    return media_pb2.FaceBox(x=x, y=y, width=width, height=height)


def reaction_add(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = media_pb2.CreateReactionTemplateRequest(
        name=args.name or args.file.stem, blob_id=_upload(clients, args.file), face_box=args.face_box
    )
    template = clients.media.CreateReactionTemplate(request).reaction_template
    face = template.face_box if template.HasField("face_box") else None
    return {
        "reactionTemplateId": template.reaction_template_id,
        "durationMs": template.probe.duration_ms,
        "faceBox": None if face is None else [round(v, 4) for v in (face.x, face.y, face.width, face.height)],
    }


def music_add(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    request = media_pb2.CreateMusicTrackRequest(title=args.title, blob_id=_upload(clients, args.file))
    track = clients.media.CreateMusicTrack(request).music_track
    return {"musicTrackId": track.music_track_id, "durationMs": track.probe.duration_ms}


def media_add(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    project = clients.admin.LookupProject(content_pb2.LookupProjectRequest(project_id=args.project))
    return {"mediaId": add_media(clients, project.project.organization_id, args.project, args.role, args.file)}


def add_media(clients: Clients, organization_id: str, project_id: str, role: str, path: Path) -> str:
    request = media_pb2.CreateMediaRequest(
        organization_id=organization_id, project_id=project_id, kind=ROLE_TO_KIND[role], blob_id=_upload(clients, path)
    )
    return str(clients.media.CreateMedia(request).media.media_id)


def credits_grant(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    wallet = _grant(clients, args.org, args.credits)
    return {"balance": wallet.balance, "available": wallet.available}


def _grant(clients: Clients, organization_id: str, credits: int) -> billing_pb2.Wallet:
    request = billing_pb2.GrantCreditsRequest(organization_id=organization_id, credits=credits)
    return clients.billing.GrantCredits(request).wallet


def demo(clients: Clients, args: argparse.Namespace) -> dict[str, Any]:
    return create_demo_tenant(clients, credits=args.credits)


def create_demo_tenant(clients: Clients, credits: int) -> dict[str, Any]:
    """An org with credits, a project, a key with every scope, an influencer driving a content layer, a
    TikTok account wired to it, and a generated app-demo clip."""
    org_id = org_create(clients, argparse.Namespace(name="Demo Org", credits=credits))["organizationId"]
    project_id = project_create(clients, argparse.Namespace(org=org_id, name="Demo App"))["projectId"]
    key = key_create(clients, argparse.Namespace(org=org_id, scopes=",".join(ALL_SCOPES), test=False))
    influencer_id = influencer_create(
        clients, argparse.Namespace(project=project_id, name="Mia", voice="warm-female", language="en")
    )["influencerId"]
    layer_id = layer_create(
        clients, argparse.Namespace(project=project_id, kind="content", name="Main", influencer=influencer_id)
    )["layerId"]
    account_id = account_create(clients, argparse.Namespace(project=project_id, platform="tiktok", handle="@demo.app"))[
        "socialAccountId"
    ]
    wire(clients, argparse.Namespace(account=account_id, layer=layer_id))
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "app-demo.mp4"
        seed_clips.make_app_demo(clip)
        media_id = add_media(clients, org_id, project_id, "app-demo", clip)
    return {
        "organizationId": org_id,
        "projectId": project_id,
        "keyId": key["keyId"],
        "apiKey": key["apiKey"],
        "influencerId": influencer_id,
        "layerId": layer_id,
        "socialAccountId": account_id,
        "mediaId": media_id,
        "credits": credits,
    }
