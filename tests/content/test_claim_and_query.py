"""IdempotencyStore.claim_and_query on a real database (SQLite: the claim, then the query; PostgreSQL: both in
one statement): what it claims and reads in every state the key can be in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, func, select, update

from common.db import Database, make_engine, migrate
from common.errors import ServiceError
from common.timeutil import utcnow
from services.content.idempotency import COMPLETE_CLAIM, Claim, IdempotencyStore, Replay, completion
from services.content.models import IdempotencyRecord, Organization, Project, table_of
from services.content.server import MIGRATIONS

ORG, SCOPE = "org_1", "POST /v1/projects/p/content/ugc-remix"
QUERY = select(Project.organization_id, Project.name).where(Project.project_id == bindparam("project_id"))


@pytest.fixture
def db(db_url: str):
    database = Database(make_engine(db_url))
    migrate(database.engine, MIGRATIONS, "alembic_version_content")
    with database.transaction() as conn:
        conn.execute(table_of(Organization).insert(), {"organization_id": ORG, "name": "O", "created_at": utcnow()})
        conn.execute(
            table_of(Project).insert(),
            {"project_id": "prj_1", "organization_id": ORG, "name": "P", "created_at": utcnow()},
        )
    yield database
    database.dispose()


def records(db: Database) -> int:
    with db.query() as conn:
        return int(conn.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0)


def test_a_fresh_key_is_claimed_and_the_row_read(db: Database) -> None:
    store = IdempotencyStore(db)
    outcome, row = store.claim_and_query(ORG, SCOPE, "k1", "fp", store.query_with_claim(QUERY), {"project_id": "prj_1"})
    assert isinstance(outcome, Claim) and outcome.record_id is not None and outcome.job_id.startswith("job_")
    assert row is not None and (row.organization_id, row.name) == (ORG, "P")
    assert store.owns(outcome) and records(db) == 1


def test_a_query_that_finds_nothing_still_claims(db: Database) -> None:
    """The claim comes back even with no row, so a start refused for it (404) can give the key back."""
    store = IdempotencyStore(db)
    outcome, row = store.claim_and_query(
        ORG, SCOPE, "k1", "fp", store.query_with_claim(QUERY), {"project_id": "prj_none"}
    )
    assert isinstance(outcome, Claim) and outcome.record_id is not None and row is None
    store.abandon(outcome)
    assert records(db) == 0


def test_a_taken_key_answers_as_claim_does(db: Database) -> None:
    store = IdempotencyStore(db)
    reading, params = store.query_with_claim(QUERY), {"project_id": "prj_1"}
    first, _ = store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert isinstance(first, Claim)
    with pytest.raises(ServiceError) as busy:
        store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert busy.value.reason == "IDEMPOTENCY_IN_PROGRESS"
    with pytest.raises(ServiceError) as other_body:
        store.claim_and_query(ORG, SCOPE, "k1", "other-fp", reading, params)
    assert other_body.value.reason == "IDEMPOTENCY_BODY_MISMATCH"

    with db.transaction() as conn:
        assert conn.execute(COMPLETE_CLAIM, completion(first, b"answer")).rowcount == 1  # type: ignore[attr-defined]
    replay, row = store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert replay == Replay(b"answer") and row is not None
    assert records(db) == 1


def test_an_expired_record_is_replaced_and_a_dead_owners_claim_taken_over(db: Database) -> None:
    store = IdempotencyStore(db)
    reading, params = store.query_with_claim(QUERY), {"project_id": "prj_1"}
    first, _ = store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert isinstance(first, Claim)
    records_table = table_of(IdempotencyRecord)
    with db.transaction() as conn:  # the owner died: its lease ran out
        conn.execute(update(records_table).values(locked_until=utcnow() - timedelta(seconds=1)))
    taken, row = store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert isinstance(taken, Claim) and taken.job_id == first.job_id and taken.lease != first.lease
    assert row is not None and row.name == "P"
    with db.transaction() as conn:  # and then the record expired
        conn.execute(update(records_table).values(expires_at=utcnow() - timedelta(seconds=1)))
    fresh, row = store.claim_and_query(ORG, SCOPE, "k1", "fp", reading, params)
    assert isinstance(fresh, Claim) and fresh.job_id != first.job_id and row is not None
    assert records(db) == 1


def test_no_key_claims_nothing_and_still_reads(db: Database) -> None:
    store = IdempotencyStore(db)
    outcome, row = store.claim_and_query(ORG, SCOPE, "", "fp", store.query_with_claim(QUERY), {"project_id": "prj_1"})
    assert isinstance(outcome, Claim) and outcome.record_id is None and row is not None
    assert records(db) == 0


def test_a_query_of_several_rows_gives_its_first_and_keeps_the_claim(db: Database) -> None:
    store = IdempotencyStore(db)
    with db.transaction() as conn:
        conn.execute(
            table_of(Project).insert(),
            {"project_id": "prj_2", "organization_id": ORG, "name": "Q", "created_at": utcnow()},
        )
    every_project = select(Project.name).order_by(Project.name)
    outcome, row = store.claim_and_query(ORG, SCOPE, "k1", "fp", store.query_with_claim(every_project), {})
    assert isinstance(outcome, Claim) and store.owns(outcome)
    assert row is not None and row.name == "P"


def test_a_query_using_the_claims_names_is_refused(db: Database) -> None:
    store = IdempotencyStore(db)
    with pytest.raises(ValueError, match="claim_state"):
        store.query_with_claim(select(Project.name).where(Project.name == bindparam("claim_state")))
    with pytest.raises(ValueError, match="found"):
        store.query_with_claim(select(Project.name.label("found")))
