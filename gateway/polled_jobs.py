"""Jobs as GET /v1/jobs/:id shows them, remembered for `job_cache_seconds`: partners poll a job many times
between two of its changes.

Content broadcasts every change to a job after it commits (common.broadcasts), so the gateway forgets its
copy as soon as it hears; the TTL bounds a missed broadcast. A cancel through this gateway forgets it at
once, so the caller reads its own change even before the broadcast arrives.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from common.clients import Clients
from common.recent import RecentAnswers
from layers.content.v1 import content_pb2


class PolledJobs(RecentAnswers[str, content_pb2.Job]):
    """By job id; `forget_key` is the broadcast's listener."""

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.ttl = ttl_seconds

    async def of(self, clients: Clients, organization_id: str, job_id: str) -> content_pb2.Job:
        job = self.get(job_id)
        # Another organization's job is content's to refuse (404), never ours to answer.
        if job is None or job.organization_id != organization_id:
            started = self.clock()
            response = await clients.partner.GetJob(
                # Fresh: content's own memory of the job must not stand in for the change just heard of.
                content_pb2.GetJobRequest(organization_id=organization_id, job_id=job_id, fresh=True)
            )
            job = response.job
            self.put(job_id, job, self.ttl, started)
        return job
