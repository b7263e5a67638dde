"""Render work folders: one per renderer process, locked while it lives, swept once its owner is dead."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import Settings
from services.renderer.workspace import WorkArea

# A renderer's work area in a process of its own: it prints its folder, writes a job's files and waits.
HOLDER = """
import sys, time
from pathlib import Path
from services.renderer.workspace import WorkArea
area = WorkArea.open(Path(sys.argv[1]))
with area.job("job_held") as job:
    (job / "demo").write_bytes(b"a tenant's clip")
    print(job, flush=True)
    time.sleep(120)
"""


def holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    job = Path(process.stdout.readline().strip())
    assert (job / "demo").is_file(), "the holder did not start"
    return process, job


def test_a_job_folder_is_removed_however_the_job_ends(tmp_path: Path) -> None:
    area = WorkArea.open(tmp_path)
    try:
        with area.job("job_1") as done:
            (done / "demo").write_bytes(b"clip")
            (done / "out").mkdir()
        with pytest.raises(RuntimeError), area.job("job_2") as failed:
            (failed / "partial.mp4").write_bytes(b"half")
            raise RuntimeError("ffmpeg failed")
        assert not done.exists() and not failed.exists()
        assert list(area.folder.iterdir()) == []
        assert area.folder.parent == tmp_path and oct(area.folder.stat().st_mode & 0o777) == "0o700"
    finally:
        area.close()
    assert not area.folder.exists()


def test_a_renderer_starting_sweeps_what_dead_ones_left_and_spares_live_ones(tmp_path: Path) -> None:
    dead, dead_job = holder(tmp_path)
    live, live_job = holder(tmp_path)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=10)
        assert (dead_job / "demo").is_file()  # a killed renderer cleans nothing up
        (tmp_path / "stray-file").write_bytes(b"?")
        area = WorkArea.open(tmp_path)
        try:
            assert not dead_job.parent.exists() and not (tmp_path / "stray-file").exists()
            assert (live_job / "demo").is_file()  # still locked by its renderer
            assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
                [".lock", area.folder.name, live_job.parent.name]
            )
        finally:
            area.close()
    finally:
        live.kill()
        live.wait(timeout=10)
    WorkArea.open(tmp_path).close()
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]


def test_the_work_root_is_under_the_data_dir_unless_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(data_dir=tmp_path).render_work == tmp_path / "render-work"
    monkeypatch.setenv("LAYERS_RENDER_WORK_DIR", str(tmp_path / "elsewhere"))
    assert Settings(data_dir=tmp_path).render_work == tmp_path / "elsewhere"
