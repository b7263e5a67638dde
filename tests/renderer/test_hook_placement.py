"""Where a hook lands on a real render: inside the platform safe zone and off the on-camera face, in
Latin, Arabic and CJK with emoji, at 1, 3 and 8 lines; long hooks shrink, never clip. Checked by the
pixels the hook changes in the encoded video, against the same render without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from services.media.faces import detect_face_box
from services.media.seed_clips import make_reaction_clip
from services.renderer.compose import ComposeInputs, EncodeSettings, compose
from services.renderer.hook.fit import layout_hook
from tests.renderer import clips
from tests.renderer.media_checks import frame_at

W, H = 1080, 1920
# Clear of the top 10 %, the bottom 20 % and the right 15 % (TikTok's and Reels' UI), 6 % on the left.
ZONE = (round(W * 0.06), round(H * 0.10), W - round(W * 0.15), H - round(H * 0.20))
FAST = EncodeSettings(preset="ultrafast")
AT = 0.5  # seconds: a frame of the hook segment
CHANGED = 64  # a channel moved this much: the hook's ink, not the encoder's noise

LINES = {
    "latin": [
        "POV: you finally found the app 😭",
        "that does your taxes 🙌",
        "wait for the ending…",
        "no really",
        "it even files them 🔥",
        "in ten minutes",
        "I'm not okay",
        "link in bio 👇",
    ],
    "arabic": [
        "أخيرا وجدت التطبيق 😭",
        "الذي يحسب ضرائبك 🙌",
        "انتظر النهاية…",
        "بجد",
        "يقدمها أيضا 🔥",
        "في عشر دقائق",
        "لست بخير",
        "الرابط في البايو 👇",
    ],
    "cjk": [
        "终于找到了这个应用 😭",
        "它帮你报税 🙌",
        "等到最后…",
        "真的",
        "还能直接提交 🔥",
        "只要十分钟",
        "我不行了",
        "链接在简介 👇",
    ],
}
LANGUAGE = {"latin": "en", "arabic": "ar", "cjk": "zh"}


@pytest.fixture(scope="module")
def face_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[float, float, float, float]]:
    """A stand-in reaction clip and the face box media finds in it."""
    clip = make_reaction_clip(tmp_path_factory.mktemp("face") / "reaction.mp4", seconds=1.0, width=720, height=1280)
    box = detect_face_box(clip, 1000, 720, 1280)
    assert box is not None, "no face found in the reaction clip"
    return clip, box


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clips.make_video(tmp_path_factory.mktemp("demo") / "demo.mp4", 1280, 720, 0.5, audio=False)


@pytest.fixture(scope="module")
def without_hook(
    tmp_path_factory: pytest.TempPathFactory, face_template: tuple[Path, tuple], demo: Path
) -> Image.Image:
    spec = ComposeInputs(face_template[0], demo, None, face_box=face_template[1], encode=FAST)
    return frame_at(compose(spec, tmp_path_factory.mktemp("no_hook")).video_path, AT)


def face_pixels(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The template is 9:16 like the output: the fill only scales it."""
    x, y, w, h = box
    return round(x * W), round(y * H), round((x + w) * W), round((y + h) * H)


def changed_mask(a: Image.Image, b: Image.Image) -> Image.Image:
    diff = ImageChops.difference(a, b)
    strongest = ImageChops.lighter(ImageChops.lighter(*diff.split()[:2]), diff.getchannel("B"))
    return strongest.point(lambda v: 255 if v >= CHANGED else 0)


@pytest.mark.parametrize("lines", [1, 3, 8])
@pytest.mark.parametrize("script", sorted(LINES))
def test_hook_stays_in_the_safe_zone_and_off_the_face(
    tmp_path: Path,
    face_template: tuple[Path, tuple[float, float, float, float]],
    demo: Path,
    without_hook: Image.Image,
    script: str,
    lines: int,
) -> None:
    hook = "\n".join(LINES[script][:lines])
    face = face_pixels(face_template[1])
    layout = layout_hook(hook, LANGUAGE[script], face=face)
    assert not layout.truncated and len(layout.lines) >= lines  # shrunk to fit, every line kept
    template, box = face_template
    spec = ComposeInputs(template, demo, None, hook=hook, language=LANGUAGE[script], face_box=box, encode=FAST)
    video = compose(spec, tmp_path).video_path
    mask = changed_mask(frame_at(video, AT), without_hook)
    ink = mask.getbbox()
    assert ink is not None, "the hook changed no pixel"
    assert ZONE[0] <= ink[0] and ZONE[1] <= ink[1] and ink[2] <= ZONE[2] and ink[3] <= ZONE[3], (ink, ZONE)
    assert mask.crop(face).getbbox() is None, f"hook pixels inside the face box {face}"
    assert sum(mask.histogram()[255:]) > 500  # legible text, not a speck
