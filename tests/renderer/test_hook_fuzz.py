"""Every hook the contract accepts renders: thousands of generated hooks through the real overlay code.

The contract's hook is any string of 1 to 2000 code points that UTF-8 can carry (the gateway's schema),
without NUL (content refuses it); every generated hook is checked against that schema first. The hooks
cover every Unicode block, stacks of combining marks, emoji ZWJ, keycap, flag and tag sequences, bidi
controls and unbalanced embeddings, words far wider than the frame, every kind of line break and space,
and the maximum length. Each must draw inside the safe area without raising, with ink whenever it holds
something visible. Hook i is generated from Random(f"{seed}:{i}") alone, so a failure printed with its
number and seed reproduces: LAYERS_TEST_HOOK_SEED=<seed> pytest -k fuzz.
"""

from __future__ import annotations

import bisect
import itertools
import multiprocessing
import os
import random
import time
import traceback
import unicodedata
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.schemas import UgcRemixBody
from services.renderer.fonts import covered_codepoints, text_faces
from services.renderer.hook.draw import render_hook
from services.renderer.hook.fit import font_sizes, stroke_width
from services.renderer.hook.shaping import load_font, make_shaper
from tests.renderer.unicode_blocks import BLOCKS

SEED = os.environ.get("LAYERS_TEST_HOOK_SEED", "layers-hooks-1")
MAX_LENGTH = 2000
W, H = 1080, 1920
# The platform safe zone: clear of the top 10 %, the bottom 20 % and the right 15 % (and 6 % on the left).
SAFE = (round(W * 0.06), round(H * 0.10), W - round(W * 0.15), H - round(H * 0.20))
LANGUAGES = ("en", "ar", "he", "hi", "ja", "", "zz-Qaaa")

SURROGATES = (0xD800, 0xDFFF)
ALLOWED_BLOCKS = tuple(b for b in BLOCKS if not (SURROGATES[0] <= b[0] <= SURROGATES[1]))
MARKS = tuple(
    chr(cp)
    for cp in range(0x110000)
    if not SURROGATES[0] <= cp <= SURROGATES[1] and unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")
)
LINE_BREAKS = ("\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")
SPACES = (" ", "\t", "\u00a0", "\u1680", "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000")
INVISIBLES = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u180e", "\ufe0f")
BIDI_CONTROLS = (
    "\u200e",  # LRM
    "\u200f",  # RLM
    "\u061c",  # ALM
    "\u202a",  # LRE
    "\u202b",  # RLE
    "\u202c",  # PDF
    "\u202d",  # LRO
    "\u202e",  # RLO
    "\u2066",  # LRI
    "\u2067",  # RLI
    "\u2068",  # FSI
    "\u2069",  # PDI
)
ZWJ, VS15, VS16, KEYCAP, TAG_END = "\u200d", "\ufe0e", "\ufe0f", "\u20e3", "\U000e007f"
SKIN_TONES = tuple(chr(cp) for cp in range(0x1F3FB, 0x1F400))
EMOJI = tuple(
    chr(cp)
    for lo, hi in ((0x1F300, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF), (0x2600, 0x27BF))
    for cp in range(lo, hi + 1)
)
REGIONAL = tuple(chr(cp) for cp in range(0x1F1E6, 0x1F200))
WORDS = {
    "latin": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "devanagari": "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह्िीुूेैोौं",
    "thai": "กขคงจฉชซญดตถทนบปผพฟภมยรลวศสหอฮะาำิีึืุู่้๊๋",
    "cjk": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "digits": "0123456789٠١٢٣٤٥٦٧٨٩०१२३",
    "wide": "\ufdfd\ufdfa\ufdfb\u0bf5\ua9c5\U00012219\U0001242b",
}


def block_char(rng: random.Random, block: tuple[int, int, str]) -> str:
    cp = rng.randint(block[0], block[1])
    return chr(cp) if cp else "\x01"  # NUL is refused by content; any other code point is allowed


def from_blocks(rng: random.Random, index: int) -> str:
    """Characters from a few blocks, the first chosen by index so that every block comes round in turn."""
    parts = []
    for k in range(rng.randint(1, 4)):
        block = ALLOWED_BLOCKS[(index + k * 97) % len(ALLOWED_BLOCKS)] if k == 0 else rng.choice(ALLOWED_BLOCKS)
        parts.append("".join(block_char(rng, block) for _ in range(rng.randint(1, 14))))
    return rng.choice(("", " ")).join(parts)


def mark_stacks(rng: random.Random, index: int) -> str:
    """Bases carrying stacks of combining marks, and marks with nothing to attach to."""
    pieces = []
    for _ in range(rng.randint(1, 4)):
        base = rng.choice(
            (
                "",
                "a",
                "ب",
                "क",
                "😂",
                " ",
                "\ufdfd",
                rng.choice(WORDS["thai"]),
                block_char(rng, rng.choice(ALLOWED_BLOCKS)),
            )
        )
        depth = rng.choice((1, 2, 3, 8, 20, 60))
        pieces.append(base + "".join(rng.choice(MARKS) for _ in range(depth)))
    return rng.choice(("", " ")).join(pieces)


def emoji_sequences(rng: random.Random, index: int) -> str:
    """ZWJ sequences (real and invented), skin tones, presentation selectors, keycaps, flags, tags."""
    pieces = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(7)
        if kind == 0:
            pieces.append(ZWJ.join(rng.choice(EMOJI) + rng.choice(("", VS16)) for _ in range(rng.randint(2, 7))))
        elif kind == 1:
            pieces.append(rng.choice(EMOJI) + rng.choice(SKIN_TONES) + ZWJ + rng.choice(EMOJI))
        elif kind == 2:
            pieces.append(rng.choice("0123456789#*") + rng.choice(("", VS16)) + KEYCAP)
        elif kind == 3:
            pieces.append("".join(rng.choice(REGIONAL) for _ in range(rng.randint(1, 5))))
        elif kind == 4:
            tags = "".join(chr(0xE0061 + rng.randrange(26)) for _ in range(rng.randint(0, 8)))
            pieces.append("\U0001f3f4" + tags + rng.choice((TAG_END, "")))
        elif kind == 5:
            pieces.append(rng.choice(EMOJI) + rng.choice((VS15, VS16, VS15 + VS16, ZWJ, ZWJ * 5)))
        else:
            pieces.append(ZWJ.join(rng.choice(WORDS["latin"] + WORDS["arabic"] + "\u0301") for _ in range(3)))
    return rng.choice(("", " ", ZWJ)).join(pieces)


def bidi_mixes(rng: random.Random, index: int) -> str:
    """Words of both directions, digits and bidi controls, balanced or not, nested past the limit."""
    pieces = []
    for _ in range(rng.randint(1, 10)):
        roll = rng.random()
        if roll < 0.1:
            pieces.append(rng.choice(BIDI_CONTROLS) * rng.choice((1, 5, 130)))
        elif roll < 0.4:
            pieces.append("".join(rng.choice(BIDI_CONTROLS) for _ in range(rng.randint(1, 4))))
        else:
            script = rng.choice(("latin", "arabic", "hebrew", "digits", "devanagari"))
            pieces.append("".join(rng.choice(WORDS[script]) for _ in range(rng.randint(1, 9))))
    return rng.choice(("", " ")).join(pieces)


def long_words(rng: random.Random, index: int) -> str:
    """Words no line can hold, in one script or many, alone or among short ones."""
    script = rng.choice(tuple(WORDS))
    word = "".join(rng.choice(WORDS[script]) for _ in range(rng.choice((40, 100, 200))))
    if rng.random() < 0.5:
        return word
    return " ".join((word, "short", word[: rng.randint(1, 40)], "😂"))


def breaks_and_spaces(rng: random.Random, index: int) -> str:
    """Every kind of line break, space, invisible and control character, with a little text among them."""
    alphabet = LINE_BREAKS + SPACES + INVISIBLES + tuple(chr(c) for c in range(1, 32)) + ("\x7f", "\x9b")
    parts = [rng.choice(alphabet) for _ in range(rng.randint(1, 30))]
    for _ in range(rng.randint(0, 3)):
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(("Hi", "سلام", "😂", "x")))
    return "".join(parts)


def anywhere(rng: random.Random, index: int) -> str:
    """Code points drawn from the whole code space: mostly private use and unassigned planes."""
    out: list[str] = []
    length = rng.randint(1, 30)
    while len(out) < length:
        cp = rng.randrange(1, 0x110000)
        if not SURROGATES[0] <= cp <= SURROGATES[1]:
            out.append(chr(cp))
    return "".join(out)


def longest(rng: random.Random, index: int) -> str:
    """Exactly the maximum length: each of the other kinds at length, and the extremes of each."""
    extremes = (
        lambda: "Wait for it " * MAX_LENGTH,
        lambda: "".join(rng.choice(WORDS["latin"]) for _ in range(MAX_LENGTH)),  # one word
        lambda: ("x" + rng.choice(LINE_BREAKS)) * MAX_LENGTH,
        lambda: "\ufdfd" * MAX_LENGTH,
        lambda: "😂" * MAX_LENGTH,
        lambda: "\U0001f468\u200d\U0001f469\u200d\U0001f467 " * MAX_LENGTH,
        lambda: "a" + "".join(rng.choice(MARKS) for _ in range(MAX_LENGTH)),  # one stack of 1999 marks
        lambda: "\u0915" + "\u093e" * MAX_LENGTH,  # one cluster: a base and 1999 spacing vowel signs
    )
    variant = index % (len(extremes) + len(SHORT_KINDS))
    if variant < len(extremes):
        return extremes[variant]()
    text = ""
    while len(text) < MAX_LENGTH:
        text += SHORT_KINDS[variant - len(extremes)](rng, index) + " "
    return text


SHORT_KINDS: tuple[Callable[[random.Random, int], str], ...] = (
    from_blocks,
    mark_stacks,
    emoji_sequences,
    bidi_mixes,
    long_words,
    breaks_and_spaces,
    anywhere,
)
# How many hooks of each kind a run renders, in this order: mostly short ones (a few ms each), a few
# at the maximum length (each takes a while to fit).
SCHEDULE: tuple[tuple[Callable[[random.Random, int], str], int], ...] = (
    (from_blocks, 950),  # every block first in three hooks or more
    (mark_stacks, 200),
    (emoji_sequences, 220),
    (bidi_mixes, 220),
    (breaks_and_spaces, 200),
    (anywhere, 200),
    (long_words, 30),
    (longest, 15),  # each variant once
)
HOOKS = sum(count for _, count in SCHEDULE)


def generate(index: int) -> tuple[str, str, str]:
    """Hook number index of the run: (kind, hook, language), cut to what the contract accepts."""
    rng = random.Random(f"{SEED}:{index}")
    first = index
    for kind, count in SCHEDULE:
        if first < count:
            hook = kind(rng, first)[:MAX_LENGTH] or "x"
            return kind.__name__, hook, rng.choice(LANGUAGES)
        first -= count
    raise IndexError(index)


def accepted(hook: str) -> bool:
    try:
        UgcRemixBody.model_validate({"influencerId": "inf_1", "hook": hook})
    except ValidationError:
        return False
    return "\x00" not in hook


# The members of Unicode's Default_Ignorable_Code_Point that are letters or unassigned: HarfBuzz draws
# them as nothing (its other members are format characters and marks, which visible() does not count).
_IGNORABLE = (
    (0x115F, 0x1160),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)


def visible(hook: str) -> bool:
    """Holds a letter, digit, punctuation, symbol, or a private-use or unassigned code point (a box)."""
    return any(
        (unicodedata.category(ch)[0] in "LNPS" or unicodedata.category(ch) in ("Co", "Cn"))
        and not any(lo <= ord(ch) <= hi for lo, hi in _IGNORABLE)
        for ch in hook
    )


def check(hook: str, language: str) -> None:
    """Renders without raising, inside the safe area, with ink when there is something to see."""
    image = render_hook(hook, language)
    assert image.size == (W, H) and image.mode == "RGBA"
    box = image.getbbox()
    if box is None:
        assert not visible(hook), "nothing drawn"
        return
    left, top, right, bottom = box
    assert left >= SAFE[0] and top >= SAFE[1] and right <= SAFE[2] and bottom <= SAFE[3], f"ink outside {SAFE}: {box}"


def check_range(indices: range, progress: Path) -> list[str]:
    """Run in a worker process: check each hook, noting which one is in flight (a crash names it)."""
    failures = []
    for index in indices:
        progress.write_text(str(index))
        _, hook, language = generate(index)
        try:
            check(hook, language)
        except Exception:
            failures.append(describe(index) + "\n" + traceback.format_exc(limit=-3))
    progress.unlink()
    return failures


def describe(index: int) -> str:
    kind, hook, language = generate(index)
    return f"hook #{index} (seed {SEED!r}, {kind}, language {language!r}, {len(hook)} code points): {hook!r}"


def test_generated_hooks_cover_every_block_and_stay_within_the_contract() -> None:
    generated = [generate(i) for i in range(HOOKS)]
    refused = [i for i, (_, hook, _) in enumerate(generated) if not accepted(hook)]
    assert not refused, describe(refused[0])
    used = {ord(ch) for _, hook, _ in generated for ch in hook}
    starts = [block[0] for block in BLOCKS]
    seen = {BLOCKS[bisect.bisect_right(starts, cp) - 1] for cp in used}
    missing = [block[2] for block in ALLOWED_BLOCKS if block not in seen]
    assert not missing, missing
    assert sum(len(hook) == MAX_LENGTH for _, hook, _ in generated) >= 10


def test_the_block_table_is_the_character_database_of_this_python() -> None:
    """Blocks are whole columns, in order, and hold every assigned code point Python knows of."""
    assert unicodedata.unidata_version == "14.0.0"
    for (start, end, _), (next_start, _, _) in itertools.pairwise(BLOCKS):
        assert start % 16 == 0 and end % 16 == 15 and end < next_start
    starts = [block[0] for block in BLOCKS]
    for cp in range(0x110000):
        if unicodedata.category(chr(cp)) != "Cn":
            start, end, _ = BLOCKS[bisect.bisect_right(starts, cp) - 1]
            assert start <= cp <= end, f"U+{cp:04X} is in no block"


def test_every_generated_hook_renders(tmp_path: Path) -> None:
    """The hooks are shared out between one process per core (spawned: this one may run threads)."""
    workers = len(os.sched_getaffinity(0))
    chunks = [range(start, HOOKS, workers * 4) for start in range(workers * 4)]  # each a mix of kinds
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        try:
            progress = [tmp_path / f"chunk-{i}" for i in range(len(chunks))]
            failures = [f for done in pool.map(check_range, chunks, progress) for f in done]
        except BrokenProcessPool:
            in_flight = sorted(int(path.read_text()) for path in tmp_path.iterdir())
            pytest.fail("a worker died rendering one of:\n" + "\n".join(describe(i) for i in in_flight))
    print(f"{HOOKS} hooks in {time.monotonic() - started:.1f}s on {workers} processes")
    assert not failures, f"{len(failures)} of {HOOKS} hooks failed; the first:\n" + "\n".join(failures[:5])


def test_every_glyph_of_every_text_face_draws_bold_or_through_the_fallback() -> None:
    """The text faces' every glyph, with the outline's stroke, at the largest size: drawn in bold, or by
    the regular-weight fallback (the hook renders, with the glyph's ink), and nothing else fails."""
    size = font_sizes(W)[1]
    faces = text_faces()
    failing = []
    for face in faces:
        bold = load_font(face.path, size, make_shaper("en").engine)
        for cp in sorted(covered_codepoints(face.path)):
            if chr(cp).isprintable():
                try:
                    bold.getmask2(chr(cp), stroke_width=stroke_width(size))
                except OSError:
                    failing.append(chr(cp))
    assert len(failing) < 5, failing  # a font update breaking more than a handful deserves a look
    for ch in failing:
        image = render_hook(ch, "en")
        assert image.getbbox() is not None, f"U+{ord(ch):04X} drew nothing"
