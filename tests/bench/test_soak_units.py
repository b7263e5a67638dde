"""The soak's verdict: a service is flat when, from the first settled sample to the last, its memory grew by
no more than the slack (MB, or 10 %) and its descriptors by no more than theirs."""

from __future__ import annotations

import os

import soak


def samples(rss: list[float], fds: list[int]) -> list[soak.Sample]:
    return [
        soak.Sample(at=10.0 * i, rss_mb={"svc": r}, fds={"svc": f})
        for i, (r, f) in enumerate(zip(rss, fds, strict=True))
    ]


def test_steady_memory_and_descriptors_are_flat() -> None:
    (verdict,) = soak.verdicts(samples([500, 130, 135, 128], [40, 20, 22, 21]), settle=10, rss_slack_mb=30, fd_slack=10)
    assert verdict.flat and verdict.rss_first == 130 and verdict.rss_max == 135 and verdict.fds_first == 20


def test_growth_past_the_slack_is_not_flat() -> None:
    grows = soak.verdicts(samples([100, 100, 150, 200], [20, 20, 20, 20]), settle=0, rss_slack_mb=30, fd_slack=10)
    leaks = soak.verdicts(samples([100, 100, 100, 100], [20, 25, 31, 45]), settle=0, rss_slack_mb=30, fd_slack=10)
    assert not grows[0].flat and not leaks[0].flat


def test_the_slack_is_ten_percent_of_a_large_process() -> None:
    (verdict,) = soak.verdicts(samples([1000, 1090], [20, 20]), settle=0, rss_slack_mb=30, fd_slack=10)
    assert verdict.flat


def test_usage_is_read_for_a_live_process_tree() -> None:
    rss, fds = soak.read_usage({"me": os.getpid()})
    assert rss["me"] > 5 and fds["me"] >= 3
