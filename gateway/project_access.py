"""Which projects a key may reach: its organization's, confirmed by content once and remembered (a project
never changes organization and is never deleted). Every route under /v1/projects/:projectId asks here."""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from fastapi import Path, Request

from common.clients import Clients
from gateway.auth import ApiKey
from gateway.errors import not_found
from gateway.schemas import canonical_project_id
from layers.content.v1 import content_pb2

ProjectId = Annotated[str, Path(alias="projectId", description="The project (a bare UUID).")]
UNKNOWN_PROJECT = "projectId is not a project of this organization."


class VisibleProjects:
    """(organization, project) pairs content confirmed. A project never changes organization and is never
    deleted, so a confirmation stays true; bounded, oldest first out. Refusals are not kept."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return pair in self._seen

    def add(self, pair: tuple[str, str]) -> None:
        self._seen[pair] = None
        if len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)


def project_or_404(project_id: str) -> str:
    """The canonical project id; 404 for anything that is not a project id at all, as for an unknown one."""
    project = canonical_project_id(project_id)
    if project is None:
        raise not_found(UNKNOWN_PROJECT)
    return project


async def visible_project(request: Request, key: ApiKey, project_id: str) -> str:
    """The canonical project id when the key's organization owns it; 404 otherwise (no existence leaks)."""
    project = project_or_404(project_id)
    seen: VisibleProjects = request.app.state.visible_projects
    if (key.organization_id, project) not in seen:
        clients: Clients = request.app.state.clients
        await clients.partner.GetProject(
            content_pb2.GetProjectRequest(organization_id=key.organization_id, project_id=project)
        )
        seen.add((key.organization_id, project))
    return project
