"""`layers admin …` as an operator runs it: a subprocess talking gRPC to running services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from services.media import seed_clips
from tests.e2e.stack import Stack

LAYERS = str(Path(sys.executable).parent / "layers")


def layers(stack: Stack | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if stack is not None:
        env.update(
            LAYERS_CONTENT_ADDR=stack.settings.content_addr,
            LAYERS_MEDIA_ADDR=stack.settings.media_addr,
            LAYERS_BILLING_ADDR=stack.settings.billing_addr,
        )
    else:
        env.update(
            LAYERS_CONTENT_ADDR="127.0.0.1:9", LAYERS_MEDIA_ADDR="127.0.0.1:9", LAYERS_BILLING_ADDR="127.0.0.1:9"
        )
    return subprocess.run([LAYERS, *args], capture_output=True, text=True, env=env, timeout=60)


def ok(stack: Stack, *args: str) -> dict[str, Any]:
    done = layers(stack, *args)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_building_a_tenant_step_by_step(stack: Stack, tmp_path: Path) -> None:
    org = ok(stack, "admin", "org", "create", "--name", "Acme", "--credits", "240")
    assert org["organizationId"].startswith("org_") and org["balance"] == 240
    project = ok(stack, "admin", "project", "create", "--org", org["organizationId"], "--name", "App")["projectId"]
    key = ok(stack, "admin", "key", "create", "--org", org["organizationId"], "--scopes", "content:write,jobs:read")
    assert key["apiKey"].startswith(f"lp_live_{key['keyId']}_")
    inf = ok(
        stack,
        "admin",
        "influencer",
        "create",
        "--project",
        project,
        "--name",
        "Mia",
        "--voice",
        "warm",
        "--language",
        "en",
    )["influencerId"]
    layer = ok(
        stack,
        "admin",
        "layer",
        "create",
        "--project",
        project,
        "--kind",
        "content",
        "--name",
        "Main",
        "--influencer",
        inf,
    )["layerId"]
    account = ok(
        stack, "admin", "account", "create", "--project", project, "--platform", "tiktok", "--handle", "@acme"
    )["socialAccountId"]
    assert ok(stack, "admin", "wire", "--account", account, "--layer", layer)["layerIds"] == [layer]
    clip = seed_clips.make_app_demo(tmp_path / "demo.mp4")
    media = ok(stack, "admin", "media", "add", "--project", project, "--role", "app-demo", "--file", str(clip))
    assert media["mediaId"].startswith("med_")
    assert ok(stack, "admin", "credits", "grant", "--org", org["organizationId"], "--credits", "120") == {
        "balance": 360,
        "available": 360,
    }

    with stack.http(key["apiKey"]) as client:
        response = client.post(f"/v1/projects/{project}/content/ugc-remix", json={"socialAccountId": account})
    assert response.status_code == 202, response.text

    # The job's start counted it against the key's cap, exactly: a recount finds nothing to correct.
    assert ok(stack, "admin", "key", "recount", "--key-id", key["keyId"]) == {"keysChecked": 1, "corrections": []}
    ok(stack, "admin", "key", "revoke", "--key-id", key["keyId"])
    with stack.http(key["apiKey"]) as client:
        assert client.get("/v1/whoami").status_code == 401


def test_refusals_are_clear(stack: Stack, tmp_path: Path) -> None:
    org = ok(stack, "admin", "org", "create", "--name", "Acme")["organizationId"]
    project = ok(stack, "admin", "project", "create", "--org", org, "--name", "App")["projectId"]
    text_file = tmp_path / "notes.mp4"
    text_file.write_text("this is not a video")
    done = layers(stack, "admin", "media", "add", "--project", project, "--role", "app-demo", "--file", str(text_file))
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("error: NOT_A_VIDEO: ")  # the cause, not a generic VALIDATION
    done = layers(stack, "admin", "project", "create", "--org", "org_missing", "--name", "X")
    assert done.returncode != 0 and "NOT_FOUND" in done.stderr
    done = layers(stack, "admin", "key", "recount", "--key-id", "key_missing")
    assert done.returncode != 0 and "NOT_FOUND" in done.stderr
    done = layers(None, "admin", "org", "create", "--name", "X")
    assert done.returncode != 0 and "not reachable" in done.stderr


def test_demo_prints_a_complete_tenant(stack: Stack) -> None:
    demo = ok(stack, "admin", "demo")
    assert set(demo) >= {
        "organizationId",
        "projectId",
        "keyId",
        "apiKey",
        "influencerId",
        "layerId",
        "socialAccountId",
        "mediaId",
    }
    with stack.http(demo["apiKey"]) as client:
        whoami = client.get("/v1/whoami").json()
    assert whoami["organizationId"] == demo["organizationId"] and whoami["scopes"] == ["*"]


def test_catalog_takes_real_files_and_refuses_impostors(stack: Stack, tmp_path: Path) -> None:
    clip = seed_clips.make_reaction_clip(tmp_path / "reaction.mp4", seconds=2.0)
    added = ok(stack, "admin", "reaction", "add", "--file", str(clip), "--name", "Shocked")
    assert added["reactionTemplateId"].startswith("rtp_") and abs(added["durationMs"] - 2000) <= 100
    assert added["faceBox"] is not None  # found in the clip
    given = ok(stack, "admin", "reaction", "add", "--file", str(clip), "--face-box", "0.25,0.2,0.5,0.35")
    assert given["faceBox"] == [0.25, 0.2, 0.5, 0.35]
    track = seed_clips.make_music_track(tmp_path / "track.m4a", seconds=5.0)
    added = ok(stack, "admin", "music", "add", "--file", str(track), "--title", "Trending #1")
    assert added["musicTrackId"].startswith("trk_") and abs(added["durationMs"] - 5000) <= 100

    silent_video = seed_clips.make_app_demo(tmp_path / "silent.mp4", seconds=1.0)
    done = layers(stack, "admin", "music", "add", "--file", str(silent_video), "--title", "Not music")
    assert done.returncode != 0 and done.stderr.startswith("error: NOT_AUDIO: ")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    done = layers(stack, "admin", "reaction", "add", "--file", str(fake))
    assert done.returncode != 0 and done.stderr.startswith(("error: UNDECODABLE: ", "error: NOT_A_VIDEO: ")), (
        done.stderr
    )
