"""Organizations, projects, API keys, influencers, layers, social accounts and their wiring."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import grpc
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from common import paging
from common.db import Database
from common.errors import ServiceError, invalid, not_found
from common.ids import new_id, new_project_id
from common.timeutil import utcnow
from services.content.models import (
    ApiKey,
    Influencer,
    Job,
    Layer,
    Organization,
    Project,
    SocialAccount,
    Wiring,
)

SCOPES = frozenset(
    {
        "content:write",
        "content:read",
        "jobs:read",
        "jobs:cancel",
        "projects:read",
        "projects:write",
        "credits:read",
        "webhooks:read",
        "webhooks:write",
        "*",
    }
)
LAYER_KINDS = frozenset({"content", "distribution"})
PLATFORMS = frozenset({"tiktok", "instagram"})
_KEY_PATTERN = re.compile(r"^lp_(live|test)_([0-9A-Z]{26})_([0-9a-f]{48})$")


def _unauthenticated() -> ServiceError:
    return ServiceError(grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "Invalid or revoked API key.")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    organization_id: str
    key_id: str
    scopes: tuple[str, ...]


class Tenancy:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- organizations, projects, keys -------------------------------------------------------------

    def create_organization(self, name: str) -> Organization:
        _require_text("name", name)
        org = Organization(organization_id=new_id("org"), name=name, created_at=utcnow())
        with self.db.write() as session:
            session.add(org)
        return org

    def create_project(self, organization_id: str, name: str) -> Project:
        _require_text("name", name)
        with self.db.write() as session:
            if session.get(Organization, organization_id) is None:
                raise not_found("organization", "Organization not found.")
            project = Project(
                project_id=new_project_id(), organization_id=organization_id, name=name, created_at=utcnow()
            )
            session.add(project)
        return project

    def get_project(self, organization_id: str, project_id: str) -> Project:
        """A partner's project; an empty organization id is an operator lookup of any project."""
        with self.db.read() as session:
            if not organization_id:
                return _project(session, project_id)
            return project_of(session, organization_id, project_id)

    def create_api_key(self, organization_id: str, scopes: list[str], test_mode: bool) -> tuple[str, str]:
        unknown = sorted(set(scopes) - SCOPES)
        if not scopes or unknown:
            raise invalid(f"Unknown or missing scopes: {', '.join(unknown) or '(none)'}.", field="scopes")
        key_id = new_id("key").removeprefix("key_")
        secret = secrets.token_hex(24)
        with self.db.write() as session:
            if session.get(Organization, organization_id) is None:
                raise not_found("organization", "Organization not found.")
            session.add(
                ApiKey(
                    key_id=key_id,
                    organization_id=organization_id,
                    secret_sha256=_digest(secret),
                    test_mode=test_mode,
                    scopes=" ".join(sorted(set(scopes))),
                    created_at=utcnow(),
                )
            )
        return key_id, f"lp_{'test' if test_mode else 'live'}_{key_id}_{secret}"

    def revoke_api_key(self, key_id: str) -> None:
        with self.db.write() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                raise not_found("key", "API key not found.")
            if key.revoked_at is None:
                key.revoked_at = utcnow()

    def recount_running_jobs(self, key_id: str = "") -> tuple[int, list[tuple[str, int, int]]]:
        """Set each key's running-job counter to its jobs actually running; return the keys checked and the
        (key, counted, running) of those that were wrong. One key per transaction, so starts wait briefly."""
        if key_id:
            key_ids = [key_id]
        else:
            with self.db.read() as session:
                key_ids = list(session.scalars(select(ApiKey.key_id).order_by(ApiKey.key_id)))
        corrections = []
        for kid in key_ids:
            with self.db.write() as session:
                # The key's row lock first: a start or finish of one of its jobs changes the counter under
                # that lock, so the count below (a fresh snapshot on PostgreSQL's READ COMMITTED, taken
                # once the lock is ours) and the counter agree at commit.
                counted = session.scalar(select(ApiKey.running_jobs).where(ApiKey.key_id == kid).with_for_update())
                if counted is None:
                    if key_id:
                        raise not_found("key", "API key not found.")
                    continue
                running = session.scalar(
                    select(func.count()).select_from(Job).where(Job.api_key_id == kid, Job.status == "running")
                )
                if running != counted:
                    session.execute(update(ApiKey).where(ApiKey.key_id == kid).values(running_jobs=running))
                    corrections.append((kid, counted, int(running or 0)))
        return len(key_ids), corrections

    def authenticate(self, api_key: str) -> Principal:
        match = _KEY_PATTERN.match(api_key)
        if match is None:
            raise _unauthenticated()
        mode, key_id, secret = match.groups()
        with self.db.read() as session:
            key = session.get(ApiKey, key_id)
        # Compare even when the key is unknown so timing does not tell which ids exist.
        expected = key.secret_sha256 if key is not None else "0" * 64
        matches = hmac.compare_digest(expected, _digest(secret))
        if key is None or not matches or key.revoked_at is not None or key.test_mode != (mode == "test"):
            raise _unauthenticated()
        return Principal(key.organization_id, key.key_id, tuple(key.scopes.split()))

    # --- influencers, layers, accounts, wiring -----------------------------------------------------

    def create_influencer(self, project_id: str, name: str, voice: str, language: str) -> Influencer:
        for field, value in (("name", name), ("voice", voice), ("language", language)):
            _require_text(field, value)
        with self.db.write() as session:
            _project(session, project_id)
            influencer = Influencer(
                influencer_id=new_id("inf"),
                project_id=project_id,
                name=name,
                voice=voice,
                language=language,
                created_at=utcnow(),
            )
            session.add(influencer)
        return influencer

    def create_layer(self, project_id: str, kind: str, name: str, influencer_id: str) -> Layer:
        if kind not in LAYER_KINDS:
            raise invalid(f"kind must be one of {', '.join(sorted(LAYER_KINDS))}.", field="kind")
        _require_text("name", name)
        if influencer_id and kind != "content":
            raise invalid("Only a content layer has an influencer.", field="influencer")
        with self.db.write() as session:
            _project(session, project_id)
            if influencer_id:
                influencer = session.scalar(select(Influencer).where(Influencer.influencer_id == influencer_id))
                if influencer is None or influencer.project_id != project_id:
                    raise not_found("influencer", "influencerId is not on this project.")
            layer = Layer(
                layer_id=new_id("lyr"),
                project_id=project_id,
                kind=kind,
                name=name,
                influencer_id=influencer_id or None,
                created_at=utcnow(),
            )
            session.add(layer)
        return layer

    def create_social_account(self, project_id: str, platform: str, handle: str) -> SocialAccount:
        if platform not in PLATFORMS:
            raise invalid(f"platform must be one of {', '.join(sorted(PLATFORMS))}.", field="platform")
        _require_text("handle", handle)
        with self.db.write() as session:
            _project(session, project_id)
            account = SocialAccount(
                social_account_id=new_id("sac"),
                project_id=project_id,
                platform=platform,
                handle=handle,
                created_at=utcnow(),
            )
            session.add(account)
        return account

    def wire(self, social_account_id: str, layer_id: str) -> tuple[SocialAccount, list[str]]:
        with self.db.write() as session:
            account = session.scalar(select(SocialAccount).where(SocialAccount.social_account_id == social_account_id))
            layer = session.scalar(select(Layer).where(Layer.layer_id == layer_id))
            if account is None:
                raise not_found("social account", "Social account not found.")
            if layer is None or layer.project_id != account.project_id:
                raise not_found("layer", "Layer is not on the account's project.")
            exists = session.scalar(
                select(Wiring).where(Wiring.social_account_id == social_account_id, Wiring.layer_id == layer_id)
            )
            if exists is None:
                session.add(Wiring(social_account_id=social_account_id, layer_id=layer_id))
                session.flush()
            return account, wired_layer_ids(session, social_account_id)

    def list_influencers(
        self, organization_id: str, project_id: str, size: int, token: str
    ) -> tuple[list[Influencer], str]:
        limit, after = paging.page_size(size), paging.decode_token(token)
        with self.db.read() as session:
            project_of(session, organization_id, project_id)
            rows = list(
                session.scalars(
                    select(Influencer)
                    .where(Influencer.project_id == project_id, Influencer.seq > after)
                    .order_by(Influencer.seq)
                    .limit(limit + 1)
                )
            )
        return _page(rows, limit)

    def list_social_accounts(
        self, organization_id: str, project_id: str, platform: str, size: int, token: str
    ) -> tuple[list[tuple[SocialAccount, list[str]]], str]:
        limit, after = paging.page_size(size), paging.decode_token(token)
        with self.db.read() as session:
            project_of(session, organization_id, project_id)
            query = select(SocialAccount).where(SocialAccount.project_id == project_id, SocialAccount.seq > after)
            if platform:
                query = query.where(SocialAccount.platform == platform)
            rows = list(session.scalars(query.order_by(SocialAccount.seq).limit(limit + 1)))
            page, token_out = _page(rows, limit)
            return [(row, wired_layer_ids(session, row.social_account_id)) for row in page], token_out


def _page(rows: list, limit: int) -> tuple[list, str]:  # type: ignore[type-arg]
    if len(rows) > limit:
        return rows[:limit], paging.encode_token(rows[limit - 1].seq)
    return rows, ""


def _require_text(field: str, value: str) -> None:
    if not value or not value.strip():
        raise invalid(f"{field} is required.", field=field)


def _project(session: Session, project_id: str) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise not_found("project", "Project not found.")
    return project


def project_of(session: Session, organization_id: str, project_id: str) -> Project:
    """The project if this organization owns it; another org's project is indistinguishable from none."""
    project = session.get(Project, project_id)
    if project is None or project.organization_id != organization_id:
        raise not_found("project", "Project not found.")
    return project


def wired_layer_ids(session: Session, social_account_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Wiring.layer_id).where(Wiring.social_account_id == social_account_id).order_by(Wiring.seq)
        )
    )
