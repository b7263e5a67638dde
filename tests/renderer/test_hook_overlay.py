"""The hook overlay, checked on its pixels: breaks, wrapping, safe area, colour emoji, shaping, bidi."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from services.renderer.hook.bidi import bidi_levels, paragraph_is_rtl, visual_order
from services.renderer.hook.draw import render_hook, write_hook_png
from services.renderer.hook.fit import layout_hook
from services.renderer.hook.text import clusters, paragraphs
from services.renderer.hook.wrap import wrap_paragraph
from tests.renderer.media_checks import mask_count, mean_abs_diff, mean_x, saturated_mask

W, H = 1080, 1920
# The platform safe zone: clear of the top 10 %, the bottom 20 % and the right 15 % (and 6 % on the left).
SAFE = (round(W * 0.06), round(H * 0.10), W - round(W * 0.15), H - round(H * 0.20))


def bbox(image: Image.Image) -> tuple[int, int, int, int]:
    box = image.getbbox()
    assert box is not None, "nothing drawn"
    return box


def ink(image: Image.Image, threshold: int = 0) -> Image.Image:
    return image.getchannel("A").point(lambda v: 255 if v > threshold else 0)


def white_fill(image: Image.Image) -> Image.Image:
    """The letters' white fill alone, without outline or shadow."""
    darkest = ImageChops.darker(ImageChops.darker(*image.split()[:2]), image.getchannel("B"))
    return ImageChops.multiply(darkest.point(lambda v: 255 if v > 200 else 0), ink(image, 200))


def ink_rows(image: Image.Image) -> list[bool]:
    rows = ink(image).resize((1, image.height), Image.Resampling.BOX)
    return [v > 0 for v in rows.tobytes()]


def bands(flags: list[bool]) -> int:
    """Number of separate runs of True."""
    return sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))


def tall_ink_position(image: Image.Image) -> float:
    """Where (0 = left, 1 = right of the ink) the columns reaching the top rows of the ink are.

    Alef (Arabic) and lamed (Hebrew) rise well above their neighbours, so this finds them.
    """
    mask = ink(image, 200)
    left, top, right, bottom = bbox(mask)
    strip = mask.crop((left, top, right, top + max(2, round((bottom - top) * 0.06))))
    return mean_x(strip) / (right - left)


def assert_in_safe_area(image: Image.Image) -> None:
    left, top, right, bottom = box = bbox(image.getchannel("A"))
    assert left >= SAFE[0] and top >= SAFE[1] and right <= SAFE[2] and bottom <= SAFE[3], box


def test_a_hook_is_a_transparent_full_frame_with_ink_in_the_upper_middle_of_the_safe_zone() -> None:
    image = render_hook("Wait for it…", "en")
    assert image.mode == "RGBA" and image.size == (W, H)
    assert image.getchannel("A").getpixel((5, 5)) == 0
    assert image.getchannel("A").getpixel((W // 2, H - 5)) == 0
    left, top, right, bottom = bbox(image.getchannel("A"))
    centre_y = (top + bottom) / 2
    assert 0.2 * H < centre_y < 0.5 * H
    assert abs((left + right) / 2 - (SAFE[0] + SAFE[2]) / 2) < 10  # centred in the zone, clear of the right rail
    assert_in_safe_area(image)


def test_text_is_white_with_a_dark_outline() -> None:
    image = render_hook("HELLO", "en")
    opaque = ink(image, 254)
    brightest = ImageChops.lighter(ImageChops.lighter(*image.split()[:2]), image.getchannel("B"))
    darkest = ImageChops.darker(ImageChops.darker(*image.split()[:2]), image.getchannel("B"))
    white = mask_count(ImageChops.multiply(opaque, darkest.point(lambda v: 255 if v > 235 else 0)))
    dark = mask_count(ImageChops.multiply(opaque, brightest.point(lambda v: 255 if v < 40 else 0)))
    assert white > 2000 and dark > 1000


def test_line_breaks_are_kept() -> None:
    one = render_hook("Wait for it", "en")
    two = render_hook("Wait\nfor it", "en")
    assert bands(ink_rows(one)) == 1
    assert bands(ink_rows(two)) == 2
    assert len(layout_hook("a\nb\nc", "en").lines) == 3


def test_long_lines_wrap_and_long_hooks_shrink() -> None:
    short = layout_hook("Wait for it", "en")
    longer = layout_hook("this app changed how I plan every single week of my life honestly", "en")
    assert len(short.lines) == 1 and len(longer.lines) > 1
    assert longer.size <= short.size


@pytest.mark.parametrize(
    "text",
    [
        ("This is a very long hook 🔥 that keeps going " * 60)[:2000],
        "x" * 2000,  # one word wider than the frame: broken between characters
        "مرحبا بالعالم " * 150,
        "line\n" * 400,  # more lines than fit: cut with an ellipsis
    ],
    ids=["words", "one-word", "arabic", "many-breaks"],
)
def test_a_2000_char_hook_renders_small_inside_the_safe_area(text: str) -> None:
    image = render_hook(text, "en")
    assert_in_safe_area(image)
    layout = layout_hook(text, "en")
    assert layout.size < 40 and len(layout.lines) > 10


def test_a_hook_too_long_for_the_smallest_size_is_cut_with_an_ellipsis() -> None:
    layout = layout_hook("word " * 5000, "en")
    assert layout.truncated
    assert layout.lines[-1].text.endswith("…")


def test_a_glyph_the_bold_weight_cannot_draw_is_drawn_at_regular_weight() -> None:
    """FreeType cannot rasterize U+FDFD from Noto Sans Arabic's bold instance: that run falls back to the
    face's regular weight, in the slot the layout gave it, and the rest of the hook stays bold."""
    alone = render_hook("\ufdfd", "ar")
    assert_in_safe_area(alone)
    layout = layout_hook("\ufdfd", "ar")
    left, _, right, _ = bbox(white_fill(alone))
    assert right - left > 8 * layout.size  # the whole ligature (about 10 em wide), not a missing-glyph box
    among = render_hook("Hi \ufdfd there", "en")
    assert_in_safe_area(among)
    assert mask_count(white_fill(among)) > mask_count(white_fill(render_hook("Hi there", "en")))


def test_every_unicode_line_break_starts_a_line() -> None:
    for separator in ("\n", "\r", "\r\n", "\v", "\f", "\x85", "\u2028", "\u2029"):
        assert [line.text for line in layout_hook(f"Wait{separator}for it", "en").lines] == ["Wait", "for it"]
        assert bands(ink_rows(render_hook(f"Wait{separator}for it", "en"))) == 2


def test_explicit_bidi_controls_are_dropped_and_deep_nesting_does_not_crash() -> None:
    """Overrides nested past FriBiDi's depth limit, then an isolate, crashed the whole process (SIGSEGV)."""
    hook = "\u202d" * 63 + "\u2067\u2069 hello \u202e\u05e9\u05dc\u05d5\u05dd\u202c"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from services.renderer.hook.draw import render_hook as r; "
            "print(r(sys.argv[1], 'en').getbbox())",
            hook,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() != "None"
    assert paragraphs(hook) == ["hello \u05e9\u05dc\u05d5\u05dd"]


def test_a_cluster_wider_than_the_line_is_broken_between_its_characters() -> None:
    """One base with 1999 spacing vowel signs is a single cluster: it wraps rather than becoming '…'."""
    layout = layout_hook("\u0915" + "\u093e" * 1999, "hi")
    assert len(layout.lines) > 10 and layout.lines[0].text.startswith("\u0915\u093e")
    assert_in_safe_area(render_hook("\u0915" + "\u093e" * 1999, "hi"))


def test_blank_hook_draws_nothing() -> None:
    assert render_hook(" \n \t ", "en").getbbox() is None


def test_emoji_are_drawn_in_colour_where_they_are() -> None:
    with_emoji = render_hook("AB 😂🔥", "en")
    plain = render_hook("AB", "en")
    coloured = saturated_mask(with_emoji)
    assert mask_count(coloured) > 2000
    assert mask_count(saturated_mask(plain)) == 0
    # Emoji come last in a left-to-right line: the colour is in the right part of the ink.
    left, _, right, _ = bbox(with_emoji.getchannel("A"))
    assert (mean_x(coloured) - left) / (right - left) > 0.6


def test_arabic_is_shaped_and_right_to_left() -> None:
    # Alef first (logically), then three behs: alef is the tall letter, and does not join forward.
    text = "اببب"
    shaped = render_hook(text, "ar")
    basic = render_hook(text, "ar", shaping=False)
    assert mean_abs_diff(shaped, basic) > 0.5  # joined forms differ from isolated ones
    assert tall_ink_position(shaped) > 0.75  # first letter on the right
    assert tall_ink_position(basic) < 0.25  # unshaped: left to right, letters apart


def test_arabic_letters_join() -> None:
    """Joined, the behs make one connected stroke: fewer columns without white fill than drawn apart."""
    shaped = render_hook("بببببب", "ar")
    basic = render_hook("بببببب", "ar", shaping=False)

    def gaps(image: Image.Image) -> int:
        mask = white_fill(image)
        left, top, right, bottom = bbox(mask)
        cols = mask.crop((left, top, right, bottom)).resize((right - left, 1), Image.Resampling.BOX).tobytes()
        return sum(1 for v in cols if v == 0)

    assert gaps(shaped) < gaps(basic)


def test_hebrew_is_right_to_left() -> None:
    text = "לאאא"  # lamed (with its ascender) first
    assert tall_ink_position(render_hook(text, "he")) > 0.75
    assert tall_ink_position(render_hook(text, "he", shaping=False)) < 0.25


def test_devanagari_conjuncts_are_formed() -> None:
    """क्ष shaped is one conjunct glyph, narrower than क, virama and ष side by side."""
    shaped = render_hook("क्ष", "hi")
    basic = render_hook("क्ष", "hi", shaping=False)
    shaped_box, basic_box = bbox(shaped), bbox(basic)
    assert shaped_box[2] - shaped_box[0] < 0.85 * (basic_box[2] - basic_box[0])


def test_mixed_line_puts_runs_in_bidi_order() -> None:
    """An Arabic paragraph with a Latin word: the Arabic (first, logically) is on the right."""
    line = layout_hook("مرحبا hello", "ar").lines[0]
    by_text = {placed.run.text.strip(): placed.x for placed in line.runs if placed.run.text.strip()}
    assert by_text["مرحبا"] > by_text["hello"]
    ltr_line = layout_hook("hello مرحبا", "en").lines[0]
    by_text = {placed.run.text.strip(): placed.x for placed in ltr_line.runs if placed.run.text.strip()}
    assert by_text["مرحبا"] > by_text["hello"]


def test_fallback_picks_a_face_per_script() -> None:
    lines = layout_hook("hi שלום مرحبا नमस्ते 😂", "en").lines
    faces = {placed.run.face.name for line in lines for placed in line.runs}
    assert {"Noto Sans", "Noto Sans Hebrew", "Noto Sans Arabic", "Noto Sans Devanagari", "Noto Color Emoji"} <= faces


def test_write_hook_png_crops_to_the_ink(tmp_path: Path) -> None:
    placed = write_hook_png("Wait for it…\nthis app 😂🔥 مرحبا", "ar", tmp_path / "hook.png")
    assert placed is not None
    saved = Image.open(placed.path)
    assert saved.mode == "RGBA" and saved.size == (placed.width, placed.height)
    full = render_hook("Wait for it…\nthis app 😂🔥 مرحبا", "ar")
    assert full.getbbox() == (placed.x, placed.y, placed.x + placed.width, placed.y + placed.height)
    same = ImageChops.difference(full.crop(full.getbbox()), saved.convert("RGBA"))
    assert ImageStat.Stat(same).extrema[3][1] == 0
    assert write_hook_png("  ", "en", tmp_path / "blank.png") is None


# --- pure pieces ------------------------------------------------------------------------------------


def test_paragraphs_keep_breaks_and_drop_control_characters() -> None:
    assert paragraphs("\n a\r\nb\x07 \r\n\nc  d\n\n") == ["a", "b", "", "c d"]
    assert paragraphs("a\u2029b\u2028c\x85d") == ["a", "b", "c", "d"]


def test_paragraph_direction_from_first_strong_letter_then_language() -> None:
    assert paragraph_is_rtl("مرحبا hello", "en")
    assert not paragraph_is_rtl("hello مرحبا", "ar")
    assert paragraph_is_rtl("😂 123", "he")
    assert not paragraph_is_rtl("😂 …", "en-US")


def test_bidi_levels_and_visual_order() -> None:
    # RTL paragraph: Arabic at level 1, the Latin word at 2, the space between takes the base level.
    levels = bidi_levels("مر ab", base_rtl=True)
    assert levels == [1, 1, 1, 2, 2]
    assert visual_order(levels) == [3, 4, 2, 1, 0]
    assert visual_order([0, 0, 1, 1, 0]) == [0, 1, 3, 2, 4]
    assert visual_order([0, 0]) == [0, 1]


def visual(text: str, base_rtl: bool) -> str:
    """The line's characters left to right as drawn (before raqm mirrors brackets in right-to-left runs)."""
    return "".join(text[i] for i in visual_order(bidi_levels(text, base_rtl)))


HELLO_AR, SAVED, THIS, CATS = "مرحبا", "وفرت", "هذا", "قطط"


def test_a_number_after_arabic_letters_reads_with_them() -> None:
    # W2: digits after an Arabic letter are Arabic numbers; N1: the space between them is right to left too.
    assert bidi_levels(f"hello {HELLO_AR} 123", base_rtl=False) == [0] * 6 + [1] * 6 + [2] * 3
    assert visual(f"hello {HELLO_AR} 123", base_rtl=False) == f"hello 123 {HELLO_AR[::-1]}"
    # Inside right-to-left text a number still reads left to right.
    assert visual(f"{SAVED} 12 {CATS}", base_rtl=True) == f"{CATS[::-1]} 12 {SAVED[::-1]}"


def test_a_currency_sign_after_an_arabic_number_is_neutral() -> None:
    # W2 turns 150 into an Arabic number before W5 could join the $ to it, so the $ resolves as a neutral
    # between right-to-left neighbours (N1): it sits at the Arabic's level, left of the number.
    assert bidi_levels(f"{SAVED} 150$ {THIS}", base_rtl=True) == [1] * 5 + [2] * 3 + [1] * 5
    assert visual(f"{SAVED} 150$ {THIS}", base_rtl=True) == f"{THIS[::-1]} $150 {SAVED[::-1]}"


def test_emoji_between_the_two_directions_take_the_paragraph_direction() -> None:
    # N2: neutrals between a left-to-right and a right-to-left letter take the embedding direction.
    assert visual("abc 😂 مر", base_rtl=False) == "abc 😂 رم"
    assert bidi_levels("abc 😂 مر", base_rtl=True) == [2, 2, 2, 1, 1, 1, 1, 1]
    assert visual("abc 😂 مر", base_rtl=True) == "رم 😂 abc"


def test_paired_brackets_resolve_together() -> None:
    # N0: the pair encloses left-to-right text but follows Arabic in a right-to-left paragraph, so both
    # brackets are right to left (one run mirrors both); the spaces between take the embedding level.
    text = "مر (ab) cd"
    assert bidi_levels(text, base_rtl=True) == [1, 1, 1, 1, 2, 2, 1, 1, 2, 2]
    assert visual_order(bidi_levels(text, base_rtl=True)) == [8, 9, 7, 6, 4, 5, 3, 2, 1, 0]


def test_a_cluster_keeps_one_level() -> None:
    """The algorithm resolves a skin tone (a neutral) on its own; a cluster is
    drawn by one run, so all of it takes the level of its first character."""
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    text = f"مر 1\ufe0f\u20e3 👋🏽 {flag} ab🏽"
    for base_rtl in (False, True):
        levels = iter(bidi_levels(text, base_rtl))
        for cluster in clusters(text):
            assert len({next(levels) for _ in cluster}) == 1, (cluster, base_rtl)


def test_a_number_after_arabic_is_laid_out_left_of_it() -> None:
    """The real fonts and raqm: in a left-to-right line the Arabic word and the number after it form one
    right-to-left stretch, the number drawn at its left."""
    line = layout_hook(f"hello {HELLO_AR} 123", "en").lines[0]
    by_text = {placed.run.text.strip(): placed.x for placed in line.runs if placed.run.text.strip()}
    assert by_text["hello"] < by_text["123"] < by_text[HELLO_AR]


def test_wrap_paragraph_is_greedy_and_breaks_long_words() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert wrap_paragraph("aa bb cc dd", measure, 5) == ["aa bb", "cc dd"]
    assert wrap_paragraph("abcdefgh", measure, 3) == ["abc", "def", "gh"]
    assert wrap_paragraph("", measure, 3) == [""]


def test_clusters_keep_marks_and_emoji_sequences_whole() -> None:
    family = "👨\u200d👩\u200d👧"
    assert clusters(f"ab{family}") == ["a", "b", family]
    assert clusters("कि") == ["कि"]
