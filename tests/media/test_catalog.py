"""Reaction-template pool and music catalog over real gRPC, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from layers.media.v1 import media_pb2
from services.media.client import upload_file
from services.media.seed_clips import seed_catalog
from tests.media.conftest import MediaFiles, MediaService, SeedClips, call_error


def test_empty_pool_and_catalog(media: MediaService) -> None:
    err = call_error(media.stub.PickReactionTemplate, media_pb2.PickReactionTemplateRequest())
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REACTION_POOL_EMPTY")
    err = call_error(media.stub.PickMusicTrack, media_pb2.PickMusicTrackRequest())
    assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "MUSIC_CATALOG_EMPTY")
    err = call_error(
        media.stub.GetReactionTemplate,
        media_pb2.GetReactionTemplateRequest(reaction_template_id="rtp_01J00000000000000000000000"),
    )
    assert err.code == grpc.StatusCode.NOT_FOUND
    err = call_error(
        media.stub.GetMusicTrack, media_pb2.GetMusicTrackRequest(music_track_id="trk_01J00000000000000000000000")
    )
    assert err.code == grpc.StatusCode.NOT_FOUND


def test_reaction_templates(media: MediaService, clips: SeedClips, files: MediaFiles) -> None:
    created = []
    for i, path in enumerate([clips.reaction, files.mp4, files.webm]):
        blob = upload_file(media.stub, path, "video/mp4")
        created.append(
            media.stub.CreateReactionTemplate(
                media_pb2.CreateReactionTemplateRequest(name=f"reaction {i}", blob_id=blob.blob_id)
            ).reaction_template
        )
    first = created[0]
    assert first.reaction_template_id.startswith("rtp_") and first.name == "reaction 0"
    assert (first.probe.width, first.probe.height) == (720, 1280)
    assert first.probe.duration_ms == pytest.approx(3000, abs=100)
    assert first.probe.has_video and first.probe.has_audio

    got = media.stub.GetReactionTemplate(
        media_pb2.GetReactionTemplateRequest(reaction_template_id=first.reaction_template_id)
    )
    assert got.reaction_template == first

    picked = {
        media.stub.PickReactionTemplate(media_pb2.PickReactionTemplateRequest()).reaction_template.reaction_template_id
        for _ in range(40)
    }
    # Random, not always the same row (all three missing from 40 picks: ~3 * (2/3)^40).
    assert picked == {t.reaction_template_id for t in created}


def test_a_template_keeps_the_face_box_found_in_it_or_given_for_it(
    media: MediaService, clips: SeedClips, files: MediaFiles
) -> None:
    def add(path: Path, face_box: media_pb2.FaceBox | None = None) -> media_pb2.ReactionTemplate:
        blob = upload_file(media.stub, path, "video/mp4")
        request = media_pb2.CreateReactionTemplateRequest(name="r", blob_id=blob.blob_id, face_box=face_box)
        created = media.stub.CreateReactionTemplate(request).reaction_template
        got = media.stub.GetReactionTemplate(
            media_pb2.GetReactionTemplateRequest(reaction_template_id=created.reaction_template_id)
        ).reaction_template
        assert got == created  # stored, not only answered
        return got

    found = add(clips.reaction)
    assert found.HasField("face_box")
    assert found.face_box.y < 0.26 < 0.5 < found.face_box.y + found.face_box.height  # the drawn head
    assert not add(files.mp4).HasField("face_box")  # test pattern: no face
    given = add(files.mp4, media_pb2.FaceBox(x=0.2, y=0.1, width=0.5, height=0.3))
    assert (given.face_box.x, given.face_box.height) == (pytest.approx(0.2), pytest.approx(0.3))

    blob = upload_file(media.stub, files.mp4, "video/mp4")
    outside = media_pb2.FaceBox(x=0.8, y=0.1, width=0.5, height=0.3)
    err = call_error(
        media.stub.CreateReactionTemplate,
        media_pb2.CreateReactionTemplateRequest(name="r", blob_id=blob.blob_id, face_box=outside),
    )
    assert (err.reason, err.fields[0].field) == ("VALIDATION", "face_box")


@pytest.mark.parametrize(("name", "reason"), [("png", "NOT_A_VIDEO"), ("truncated_faststart", "UNDECODABLE")])
def test_reaction_template_refusals(media: MediaService, files: MediaFiles, name: str, reason: str) -> None:
    blob = upload_file(media.stub, getattr(files, name), "video/mp4")
    err = call_error(
        media.stub.CreateReactionTemplate, media_pb2.CreateReactionTemplateRequest(name="x", blob_id=blob.blob_id)
    )
    assert (err.reason, err.fields[0].field) == (reason, "file")
    assert media.blob_rows() == 0 and media.blob_files() == []
    err = call_error(media.stub.PickReactionTemplate, media_pb2.PickReactionTemplateRequest())
    assert err.reason == "REACTION_POOL_EMPTY"


def test_music_tracks(media: MediaService, clips: SeedClips, files: MediaFiles) -> None:
    blob = upload_file(media.stub, clips.music, "audio/mp4")
    track = media.stub.CreateMusicTrack(
        media_pb2.CreateMusicTrackRequest(title="Seed tune", blob_id=blob.blob_id)
    ).music_track
    assert track.music_track_id.startswith("trk_") and track.title == "Seed tune"
    assert track.blob == blob
    assert track.probe.has_audio and not track.probe.has_video
    assert track.probe.duration_ms == pytest.approx(12000, abs=100)

    got = media.stub.GetMusicTrack(media_pb2.GetMusicTrackRequest(music_track_id=track.music_track_id))
    assert got.music_track == track
    assert media.stub.PickMusicTrack(media_pb2.PickMusicTrackRequest()).music_track == track

    for path, reason in [(files.silent_mp4, "NOT_AUDIO"), (files.png, "NOT_AUDIO"), (files.empty, "EMPTY_FILE")]:
        refused = upload_file(media.stub, path, "audio/mp4")
        err = call_error(
            media.stub.CreateMusicTrack, media_pb2.CreateMusicTrackRequest(title="x", blob_id=refused.blob_id)
        )
        assert (err.code, err.reason, err.fields[0].field) == (grpc.StatusCode.INVALID_ARGUMENT, reason, "file")
    assert media.blob_rows() == 1

    blob = upload_file(media.stub, clips.music, "audio/mp4")
    err = call_error(media.stub.CreateMusicTrack, media_pb2.CreateMusicTrackRequest(title="", blob_id=blob.blob_id))
    assert (err.reason, err.fields[0].field) == ("VALIDATION", "title")


def test_seed_catalog_is_idempotent(media: MediaService, seed_dir: Path) -> None:
    report = seed_catalog(media.stub, seed_dir)
    assert (report.reaction_templates_created, report.music_tracks_created) == (3, 2)
    again = seed_catalog(media.stub, seed_dir)
    assert (again.reaction_templates_created, again.music_tracks_created) == (0, 0)

    template = media.stub.PickReactionTemplate(media_pb2.PickReactionTemplateRequest()).reaction_template
    assert template.probe.has_audio and (template.probe.width, template.probe.height) == (720, 1280)
    track = media.stub.PickMusicTrack(media_pb2.PickMusicTrackRequest()).music_track
    assert track.probe.has_audio and track.probe.duration_ms == pytest.approx(12000, abs=100)
    assert media.blob_rows() == 5
