"""Start a UGC remix, wait for it, download the video (resumable, checksum-checked) and print what ffprobe
says of it.

    export LAYERS_API_KEY=lp_live_…   LAYERS_BASE_URL=http://127.0.0.1:8080
    python examples/remix_and_download.py --project-id <uuid> --influencer-id inf_… --hook "Wait for it"

Against `layers dev`, `--demo .layers-data/demo.json` takes the key, project and influencer from the demo
tenant it seeded. Exit status: 0 done, 1 the API or the job failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import layers_partner as lp


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("LAYERS_BASE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("LAYERS_API_KEY"), help="default: $LAYERS_API_KEY")
    parser.add_argument("--demo", type=Path, help="a layers dev demo.json: key, project and influencer from it")
    parser.add_argument("--project-id")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--influencer-id")
    who.add_argument("--social-account-id")
    parser.add_argument("--hook", help="opening overlay text, 1-2000 characters")
    parser.add_argument("--media-id", help="the app-demo clip (default: the project's first)")
    parser.add_argument("--out", type=Path, default=Path("remix.mp4"), help="where the video goes (remix.mp4)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the render (1-3600)")
    args = parser.parse_args(argv)
    if args.demo:
        demo = json.loads(args.demo.read_text())
        args.api_key = args.api_key or demo["apiKey"]
        args.project_id = args.project_id or demo["projectId"]
        if not args.social_account_id:
            args.influencer_id = args.influencer_id or demo["influencerId"]
    if not args.api_key or not args.project_id or not (args.influencer_id or args.social_account_id):
        parser.error("need an API key, --project-id and --influencer-id or --social-account-id (or --demo)")
    if not 1 <= args.timeout <= 3600:
        parser.error("--timeout must be from 1 to 3600 seconds")
    if args.hook is not None and not 1 <= len(args.hook) <= 2000:
        parser.error("--hook must be 1 to 2000 characters")
    return args


def ffprobe_summary(path: Path) -> str:
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return "ffprobe not found: install ffmpeg to see the streams"
    done = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return f"ffprobe failed: {done.stderr.strip()}"
    probe: dict[str, Any] = json.loads(done.stdout)
    lines = [f"format: {probe['format']['format_name']}, {float(probe['format']['duration']):.2f} s"]
    for stream in probe["streams"]:
        if stream["codec_type"] == "video":
            lines.append(
                f"video: {stream['codec_name']} {stream['width']}x{stream['height']} {stream['avg_frame_rate']} fps"
            )
        elif stream["codec_type"] == "audio":
            lines.append(f"audio: {stream['codec_name']} {stream['sample_rate']} Hz {stream.get('channels', '?')} ch")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    try:
        with lp.Client(args.api_key, base_url=args.base_url) as layers:
            job = layers.ugc_remix(
                args.project_id,
                influencer_id=args.influencer_id,
                social_account_id=args.social_account_id,
                hook=args.hook,
                media_id=args.media_id,
            )
            print(f"started {job.job_id} (container {job.container_ids[0]})", flush=True)
            done = layers.jobs.wait(job.job_id, timeout=args.timeout, raise_on_failure=True)
            assert done.result is not None
            video = next(a for a in done.result.assets if a.kind == "video")
            path = layers.content.download(video, args.out)
    except lp.ValidationError as exc:
        print(f"refused: {exc} {exc.detail_code or ''} {exc.fields or ''}".rstrip(), file=sys.stderr)
        return 1
    except lp.LayersError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    print(f"downloaded {path} ({path.stat().st_size} bytes, sha256 {video.checksum_sha256} checked)")
    print(ffprobe_summary(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
