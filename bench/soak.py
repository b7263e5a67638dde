"""Soak: the production shape under mixed traffic for a long while, with renders running; is every process's
memory and open-file count flat, and did anything but the intended answers come back?

It starts what bench/request_path.py starts (PostgreSQL databases, RabbitMQ, Redis, `layers serve
content|media|billing|gateway`) plus `layers serve renderer`, seeds a tenant, and runs until the time is up:

- starts: a ugc-remix every --start-every seconds (a fresh Idempotency-Key each);
- polls: --pollers clients polling recent jobs (with If-None-Match), and for each completed one fetching its
  container, its asset and a Range of the signed download;
- uploads: an app-media clip every --upload-every seconds.

Every --sample-every seconds it reads each service's resident memory and open file descriptors (its
processes summed, from /proc). The report compares the first sample after --settle seconds with the last
(and shows the largest); a service whose memory grew by more than --rss-slack (MB, or 10 %) or whose descriptors grew by
more than --fd-slack is not flat, and the exit status is 1, as it is for any unexpected answer.

    .venv/bin/python bench/soak.py --minutes 20
    .venv/bin/python bench/soak.py --minutes 2 --json soak.json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import request_path
from request_path import REPO, Bench, descendants, log, process_table, run_and_clean_up

# Status 0 stands for an exception in the client (a timeout, a reset connection): never expected.
EXPECTED = {
    "start": {202},
    "poll": {200, 304},
    "container": {200},
    "asset": {200},
    "download": {206},
    "upload": {201},
}


@dataclasses.dataclass
class Sample:
    at: float  # seconds since the traffic began
    rss_mb: dict[str, float]
    fds: dict[str, int]


def _is_encoder(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().startswith(("ffmpeg", "ffprobe"))
    return False


def read_usage(roots: Mapping[str, int]) -> tuple[dict[str, float], dict[str, int]]:
    """Resident MB and open descriptors of each service, its processes summed; the renderer's ffmpeg and
    ffprobe children are left out (they live one step of one render, and their size is the frame's)."""
    table = process_table()
    rss: dict[str, float] = {}
    fds: dict[str, int] = {}
    for name, root in roots.items():
        rss[name], fds[name] = 0.0, 0
        for pid in descendants(root, table):
            if _is_encoder(pid):
                continue
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss[name] += int(line.split()[1]) / 1024
            with contextlib.suppress(OSError):
                fds[name] += len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


@dataclasses.dataclass
class Verdict:
    service: str
    rss_first: float
    rss_max: float
    rss_last: float
    fds_first: int
    fds_max: int
    fds_last: int
    flat: bool


def verdicts(samples: Sequence[Sample], settle: float, rss_slack_mb: float, fd_slack: int) -> list[Verdict]:
    """Compare the first sample taken after `settle` seconds with the last (and the largest) one."""
    settled = [s for s in samples if s.at >= settle] or list(samples)
    first, last = settled[0], settled[-1]
    result = []
    for name in first.rss_mb:
        rss = [s.rss_mb.get(name, 0.0) for s in settled]
        fds = [s.fds.get(name, 0) for s in settled]
        allowed = max(rss_slack_mb, 0.10 * first.rss_mb[name])
        flat = last.rss_mb[name] - first.rss_mb[name] <= allowed and last.fds[name] - first.fds[name] <= fd_slack
        result.append(
            Verdict(
                name, first.rss_mb[name], max(rss), last.rss_mb[name], first.fds[name], max(fds), last.fds[name], flat
            )
        )
    return result


class Traffic:
    """The clients: one starter, some pollers, one uploader; every answer counted by call and status."""

    def __init__(self, base_url: str, tenant: Any, clip: Path, args: argparse.Namespace) -> None:
        self.base_url = base_url
        self.tenant = tenant
        self.clip = clip
        self.args = args
        self.stop = threading.Event()
        self.counts: Counter[tuple[str, int]] = Counter()
        self.unexpected: list[str] = []
        self.jobs: list[str] = []
        self.completed: set[str] = set()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def _client(self) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.tenant.api_key}"}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def _guarded(self, name: str, loop: Any) -> Any:
        """Run a client's loop; an exception (a timeout, a reset connection) is an unexpected answer, and the
        client starts again rather than dying silently."""

        def run() -> None:
            while not self.stop.is_set():
                try:
                    loop()
                except Exception as exc:
                    with self.lock:
                        self.counts[(name, 0)] += 1
                        if len(self.unexpected) < 20:
                            self.unexpected.append(f"{name}: {exc.__class__.__name__}: {exc}"[:300])
                    self.stop.wait(1.0)

        return run

    def _count(self, call: str, response: Any) -> None:
        with self.lock:
            self.counts[(call, response.status_code)] += 1
            if response.status_code not in EXPECTED[call] and len(self.unexpected) < 20:
                self.unexpected.append(f"{call} {response.status_code} {response.text[:200]}")

    def _starter(self) -> None:
        path = f"/v1/projects/{self.tenant.project_id}/content/ugc-remix"
        with self._client() as http:
            while not self.stop.wait(self.args.start_every):
                response = http.post(
                    path,
                    json={"influencerId": self.tenant.influencer_id},
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                self._count("start", response)
                if response.status_code == 202:
                    with self.lock:
                        self.jobs.append(response.json()["jobId"])

    def _poller(self) -> None:
        etags: dict[str, str] = {}
        with self._client() as http:
            while not self.stop.wait(0.05):
                with self.lock:
                    waiting = [job for job in self.jobs[-200:] if job not in self.completed]
                    done = list(self.completed)
                # Mostly jobs not yet seen finished; now and then a finished one again (its download).
                pool = done if done and (not waiting or random.random() < 0.2) else waiting
                if not pool:
                    continue
                job_id = random.choice(pool)
                headers = {"If-None-Match": etags[job_id]} if job_id in etags else {}
                response = http.get(f"/v1/jobs/{job_id}", headers=headers)
                self._count("poll", response)
                if response.status_code != 200:
                    continue
                etags[job_id] = response.headers.get("etag", "")
                job = response.json()
                if job["status"] == "completed":
                    with self.lock:
                        self.completed.add(job_id)
                    self._download(http, job)

    def _download(self, http: Any, job: Mapping[str, Any]) -> None:
        container_id = job["containerIds"][0]
        container = http.get(f"/v1/content/{container_id}")
        self._count("container", container)
        assets = (container.json().get("assets") or []) if container.status_code == 200 else []
        if not assets:
            return
        asset = http.get(f"/v1/content/{container_id}/assets/{assets[0]['assetId']}")
        self._count("asset", asset)
        if asset.status_code == 200:
            url = asset.json()["url"]
            download = http.get(url, headers={"Range": "bytes=0-65535"})  # signed: no key needed
            self._count("download", download)

    def _uploader(self) -> None:
        path = f"/v1/projects/{self.tenant.project_id}/app-media"
        with self._client() as http:
            while not self.stop.wait(self.args.upload_every):
                with self.clip.open("rb") as f:
                    response = http.post(
                        path,
                        files={"file": ("demo.mp4", f, "video/mp4")},
                        data={"kind": "demo-video"},
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                self._count("upload", response)

    def start(self) -> None:
        targets = [("start", self._starter), ("upload", self._uploader)] + [("poll", self._poller)] * self.args.pollers
        self.threads = [threading.Thread(target=self._guarded(name, loop), daemon=True) for name, loop in targets]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)
            if thread.is_alive():
                self.unexpected.append("a client did not stop within 90 s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Soak the production shape under mixed traffic with renders running; report memory and "
        "descriptors of every process, and every unexpected answer.",
    )
    parser.add_argument("--minutes", type=float, default=20.0, help="how long the traffic runs (default 20)")
    parser.add_argument("--sample-every", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before the baseline sample (default 60)")
    parser.add_argument(
        "--start-every",
        type=float,
        default=8.0,
        help="seconds between ugc-remix starts (8: about what one renderer keeps up with here)",
    )
    parser.add_argument("--pollers", type=int, default=3, help="polling clients (default 3)")
    parser.add_argument("--upload-every", type=float, default=15.0, help="seconds between uploads (default 15)")
    parser.add_argument("--rss-slack", type=float, default=30.0, help="MB a service may grow, or 10 %% (30)")
    parser.add_argument("--fd-slack", type=int, default=10, help="descriptors a service may gain (default 10)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the samples and verdicts to FILE")
    parser.add_argument("--keep", type=Path, help="keep the services' logs and data in this folder")
    for name, default in (
        ("--pg-url", request_path.DEFAULT_PG_URL),
        ("--amqp-url", request_path.DEFAULT_AMQP_URL),
        ("--redis", request_path.DEFAULT_REDIS),
    ):
        parser.add_argument(
            name, default=default, help=f"as for bench/request_path.py (default {default})".replace("%", "%%")
        )
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sample_every <= 0 or args.start_every <= 0 or args.upload_every <= 0:
        parser.error("--minutes, --sample-every, --start-every and --upload-every must be positive")
    # What the request-path bench's set-up reads.
    seconds = args.minutes * 60
    args.http_workers, args.grpc_workers = 2, 1
    # Bench.credits_needed is overridden below; these only satisfy the shared set-up.
    args.duration, args.warmup, args.flat_levels, args.flat_duration = seconds, 0.0, [], None
    args.profile = None
    args.minimum_credits = int(seconds / args.start_every) + 100
    return args


class Soak(Bench):
    def credits_needed(self) -> int:
        return 120 * int(self.args.minimum_credits)

    def soak(self) -> int:
        from services.media import seed_clips

        self.set_up()
        assert self.stack is not None
        log("starting `layers serve renderer`")
        renderer = self.stack.start("renderer")
        tenant = self.seed()
        clip = seed_clips.make_app_demo(self.workdir / "upload.mp4", seconds=2.0)
        traffic = Traffic(self.base_url, tenant, clip, self.args)
        samples: list[Sample] = []
        began = time.monotonic()
        end = began + self.args.minutes * 60
        traffic.start()
        try:
            while True:
                if renderer.process.poll() is not None:
                    raise self.stack.fail(renderer, "exited")
                rss, fds = read_usage(self.meter.roots)
                samples.append(Sample(round(time.monotonic() - began, 1), rss, fds))
                with traffic.lock:
                    started, completed = len(traffic.jobs), len(traffic.completed)
                log(
                    f"{samples[-1].at:6.0f} s: {started} started, {completed} seen completed; "
                    + ", ".join(f"{n} {rss[n]:.0f} MB/{fds[n]} fds" for n in rss)
                )
                if time.monotonic() >= end:
                    break
                time.sleep(min(self.args.sample_every, max(0.0, end - time.monotonic())))
        finally:
            traffic.finish()
        results = verdicts(samples, self.args.settle, self.args.rss_slack, self.args.fd_slack)
        print(self.report(traffic, results, samples))
        if self.args.json:
            self.args.json.write_text(
                json.dumps(
                    {
                        "samples": [dataclasses.asdict(s) for s in samples],
                        "verdicts": [dataclasses.asdict(v) for v in results],
                        "answers": {f"{call} {status}": n for (call, status), n in sorted(traffic.counts.items())},
                        "unexpected": traffic.unexpected,
                        "jobs_started": len(traffic.jobs),
                        "jobs_seen_completed": len(traffic.completed),
                    },
                    indent=2,
                )
                + "\n"
            )
        return 0 if all(v.flat for v in results) and not traffic.unexpected else 1

    def report(self, traffic: Traffic, results: Sequence[Verdict], samples: Sequence[Sample]) -> str:
        lines = [
            f"soak: {self.args.minutes:g} min of traffic, {len(samples)} samples, git {request_path.git_revision()}",
            f"jobs: {len(traffic.jobs)} started, {len(traffic.completed)} seen completed by the pollers",
            "answers: " + ", ".join(f"{c} {s}: {n}" for (c, s), n in sorted(traffic.counts.items())),
            "",
            f"{'service':10} {'RSS MB first':>12} {'max':>7} {'last':>7} {'fds first':>10} {'max':>5} {'last':>5}"
            "  flat",
        ]
        for v in results:
            lines.append(
                f"{v.service:10} {v.rss_first:12.1f} {v.rss_max:7.1f} {v.rss_last:7.1f} "
                f"{v.fds_first:10d} {v.fds_max:5d} {v.fds_last:5d}  {'yes' if v.flat else 'NO'}"
            )
        lines.append(f"(first: the sample at {self.args.settle:g} s or after; processes of a service summed)")
        for line in traffic.unexpected:
            lines.append(f"unexpected: {line}")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    request_path.LOG_PREFIX = "[soak]"
    return run_and_clean_up(args.keep, lambda folder: Soak(args, folder), Soak.soak)


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
