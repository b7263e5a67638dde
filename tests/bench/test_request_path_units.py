"""bench/request_path.py's pieces that need no stack: /proc accounting, wrk's JSON line, the table, the
arguments and the environment the services get."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import request_path
from request_path import CpuMeter, CpuSample, LoadResult, ProcStat, Row

TICK = 1 / request_path.CLK_TCK


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int, cstime: int) -> str:
    fields = ["S", str(ppid), *["0"] * 9, str(utime), str(stime), str(cutime), str(cstime), *["0"] * 4, "4242"]
    return f"{pid} ({comm}) " + " ".join(fields) + " 0 0\n"


def test_stat_lines_are_parsed_even_with_odd_command_names() -> None:
    stat = request_path.parse_stat(stat_line(12, "py (worker) 1", 3, 100, 50, 7, 3))
    assert (stat.pid, stat.ppid, stat.start_ticks) == (12, 3, 4242)
    assert stat.cpu_seconds == pytest.approx(150 * TICK)
    assert stat.children_seconds == pytest.approx(10 * TICK)


def test_own_process_is_read_from_proc() -> None:
    stat = request_path.read_stat(os.getpid())
    assert stat is not None and stat.pid == os.getpid() and stat.ppid == os.getppid()
    assert request_path.read_stat(2**22 + 12345) is None


def test_a_tree_sums_live_processes_and_reaped_children() -> None:
    table = {
        1: ProcStat(1, 0, 1.0, 0.0, 0),
        10: ProcStat(10, 1, 2.0, 0.5, 0),  # root: 0.5 s from children it reaped
        11: ProcStat(11, 10, 3.0, 0.0, 0),
        12: ProcStat(12, 11, 4.0, 0.0, 0),
        20: ProcStat(20, 1, 9.0, 0.0, 0),  # not ours
    }
    assert sorted(request_path.descendants(10, table)) == [10, 11, 12]
    assert request_path.tree_cpu_seconds(10, table) == pytest.approx(9.5)
    assert request_path.tree_cpu_seconds(99, table) == 0


def test_a_real_child_is_found_and_its_cpu_counted() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)",
        ]
    )
    try:
        meter = CpuMeter(None)
        meter.roots["me"] = os.getpid()
        deadline = time.monotonic() + 10
        while True:
            sample = meter.sample()
            stat = request_path.read_stat(child.pid)
            if (stat is not None and stat.cpu_seconds >= 0.3) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert child.pid in meter.seen
        own = request_path.read_stat(os.getpid())
        assert own is not None
        assert sample.services["me"] >= own.cpu_seconds + 0.25
    finally:
        child.kill()
        child.wait()


def test_delta_counts_new_backends_whole() -> None:
    before = CpuSample({"content": 1.0, "gateway": 2.0}, {100: 5.0, 101: 1.0})
    after = CpuSample({"content": 1.5, "gateway": 3.0}, {100: 5.5, 102: 0.25})
    services, postgres = CpuMeter.delta(before, after)
    assert services == {"content": pytest.approx(0.5), "gateway": pytest.approx(1.0)}
    assert postgres == pytest.approx(0.75)
    assert CpuMeter.delta(CpuSample({}, {}), CpuSample({}, {}))[1] is None


WRK_LINE = (
    'BENCH_JSON {"requests": 1000, "duration_us": 2000000, "bytes": 5, "non2xx": 3, "statuses": {"202": 997, '
    '"409": 3}, "socket_errors": {"connect": 0, "read": 1, "write": 0, "timeout": 2}, "status_errors": 3, '
    '"latency_us": {"min": 100, "mean": 900.5, "max": 9000, "stdev": 3.0, "p50": 800, "p90": 1500, "p99": 4000, '
    '"p999": 8000}, "first_error": "409 {}"}'
)


def test_wrk_output_is_read() -> None:
    figures = request_path.parse_wrk_output("Running 2s test @ http://x\n" + WRK_LINE + "\n")
    result = request_path.wrk_result(figures)
    assert (result.requests, result.rps, result.errors) == (1000, 500.0, 6)
    assert (result.p50_ms, result.p99_ms) == (0.8, 4.0)
    assert result.error_sample == "409 {}"
    with pytest.raises(RuntimeError, match="no BENCH_JSON"):
        request_path.parse_wrk_output("Running 2s test\n")


def test_the_table_has_one_line_per_call() -> None:
    ceiling = Row("ceiling", "http", ceiling=True, result=LoadResult(2000, 2.0, 1.0, 3.0, 0, {}))
    ceiling.cpu_seconds = {"ceiling": 0.4}
    measured = Row("REST GET /v1/whoami", "http", result=LoadResult(500, 2.0, 4.0, 9.5, 2, {}))
    measured.cpu_seconds, measured.postgres_seconds = {"gateway": 0.5, "content": 0.25}, 0.05
    skipped = Row("gRPC PartnerService/GetJob", "grpc", note="not measured: no method")
    request_path.set_ratios(ceiling, [measured, skipped])
    lines = request_path.format_table([ceiling, measured, skipped]).splitlines()
    assert lines[0].split()[:3] == ["call", "req/s", "p50"] and "ratio to ceiling" in lines[0]
    assert set(lines[1]) == {"-"}
    assert lines[2].split()[1:] == ["1000", "1.0", "ms", "3.0", "ms", "0", "ceiling", "0.20", "-", "0.20"]
    assert lines[3].split()[-10:] == ["250", "4.0", "ms", "9.5", "ms", "2", "0.25", "1.50", "0.10", "0.38"]
    assert lines[4].startswith("gRPC PartnerService/GetJob") and lines[4].endswith("not measured: no method")
    assert measured.to_json()["cpu_ms_per_request"] == pytest.approx(1.5)
    assert json.dumps([r.to_json() for r in (ceiling, measured, skipped)])


def test_arguments() -> None:
    args = request_path.parse_args([])
    assert (args.duration, args.warmup, args.connections) == (10.0, 2.0, 32)
    assert (args.http_workers, args.grpc_workers, args.grpc_connections) == (2, 1, 1)
    assert args.phases == {"rest", "grpc"} and args.flat_levels == []
    args = request_path.parse_args(["--flat-jobs", "10,10000", "--grpc-workers", "2", "--only", "flat"])
    assert args.phases == {"flat"} and args.flat_levels == [10, 10000] and args.grpc_connections == 2
    for bad in (["--only", "nope"], ["--flat-jobs", "ten"], ["--duration", "0"]):
        with pytest.raises(SystemExit):
            request_path.parse_args(bad)


def test_services_get_the_production_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERS_SIGNING_SECRET", "from-the-caller")  # a caller's LAYERS_* must not leak in
    bench = request_path.Bench(request_path.parse_args(["--http-workers", "3"]), tmp_path)
    bench.redis_db = 7
    env = bench.environment({"content": 1001, "media": 1002, "billing": 1003, "http": 1004})
    assert env["LAYERS_CONTENT_ADDR"] == "127.0.0.1:1001" and env["LAYERS_HTTP_PORT"] == "1004"
    assert env["LAYERS_CONTENT_DB_URL"] == f"postgresql+psycopg://postgres@127.0.0.1:5432/{bench.databases['content']}"
    assert env["LAYERS_RENDER_QUEUE"] == bench.queue and bench.run_id in bench.queue
    assert env["LAYERS_REDIS_URL"] == "redis://127.0.0.1:6379/7"
    assert env["LAYERS_HTTP_WORKERS"] == "3" and env["LAYERS_GRPC_WORKERS"] == "1"
    for name in ("READS", "WRITES", "GENERATIONS"):
        assert env[f"LAYERS_RATE_LIMIT_{name}_PER_MINUTE"] == "1000000000"
    assert env["LAYERS_MAX_CONCURRENT_JOBS_PER_KEY"] == "1000000000"
    assert env["LAYERS_SIGNING_SECRET"] != "from-the-caller"
    assert len(set(bench.databases.values())) == 3


def test_redis_replies_are_read() -> None:
    import io

    reader = io.BytesIO(b"+OK\r\n:0\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n")
    replies = [request_path._redis_reply(reader) for _ in range(5)]
    assert replies == ["OK", 0, "abc", None, ["databases", "16"]]
    with pytest.raises(RuntimeError, match="ERR nope"):
        request_path._redis_reply(io.BytesIO(b"-ERR nope\r\n"))
