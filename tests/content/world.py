"""A small world for content tests: an org, a project, a wired influencer and two app-demo clips, on a
real database (SQLite and PostgreSQL) with in-memory media and billing ports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from common.db import Database, make_engine, migrate
from layers.content.v1 import content_pb2 as pb
from services.content.idempotency import IdempotencyStore
from services.content.jobs import Jobs
from services.content.server import MIGRATIONS
from services.content.tenancy import Tenancy
from services.content.ugc_remix import UgcRemixHandler
from tests.content.fakes import FakeBilling, FakeMedia
from tests.support.clocks import MovableClock


@dataclass
class World:
    db: Database
    tenancy: Tenancy
    media: FakeMedia
    billing: FakeBilling
    handler: UgcRemixHandler
    jobs: Jobs
    org: str
    project: str
    influencer: str
    layer: str
    account: str
    clock: MovableClock  # the idempotency leases' clock


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    db = Database(make_engine(db_url))
    clock = MovableClock()
    migrate(db.engine, MIGRATIONS, "alembic_version_content")
    tenancy = Tenancy(db)
    media, billing = FakeMedia(), FakeBilling(available=10_000)
    handler = UgcRemixHandler(
        db,
        IdempotencyStore(db, clock=clock),
        media,
        billing,
        credits=120,
        reservation_ttl_seconds=600,
        max_running_jobs_per_key=3,
    )
    org = tenancy.create_organization("Acme").organization_id
    project = tenancy.create_project(org, "App").project_id
    influencer = tenancy.create_influencer(project, "Mia", "warm", "en").influencer_id
    layer = tenancy.create_layer(project, "content", "Main", influencer).layer_id
    account = tenancy.create_social_account(project, "tiktok", "@mia").social_account_id
    tenancy.wire(account, layer)
    media.add(org, project, "med_demo1")
    media.add(org, project, "med_demo2")
    yield World(
        db, tenancy, media, billing, handler, Jobs(db, billing), org, project, influencer, layer, account, clock
    )
    db.dispose()


def request(w: World, **fields) -> pb.CreateUgcRemixRequest:
    return pb.CreateUgcRemixRequest(organization_id=w.org, project_id=w.project, **fields)
