"""Font fallback: the face that draws each character of a line."""

from __future__ import annotations

import functools

from services.renderer.fonts import FontFace, covered_codepoints
from services.renderer.hook.emoji import is_emoji_at
from services.renderer.hook.text import is_attached, is_weak


def assign_faces(text: str, faces: tuple[FontFace, ...], emoji: FontFace) -> list[FontFace]:
    """The face drawing each character: emoji font for emoji, else the first text face covering it."""
    emoji_cmap = covered_codepoints(emoji.path)
    coverage = _coverage(faces, emoji)
    chosen: list[FontFace | None] = []
    for i, ch in enumerate(text):
        if is_attached(ch):
            chosen.append(None)
        elif is_emoji_at(text, i, emoji_cmap):
            chosen.append(emoji)
        elif is_weak(ch):
            chosen.append(None)
        else:
            chosen.append(coverage.get(ord(ch), faces[0]))
    return _resolve_inherited(text, chosen, faces, coverage)


@functools.cache
def _coverage(faces: tuple[FontFace, ...], emoji: FontFace) -> dict[int, FontFace]:
    """Code point → the first face of the chain covering it, emoji last. A code point nobody has is
    missing: the primary face draws its missing-glyph box."""
    table = dict.fromkeys(covered_codepoints(emoji.path), emoji)
    for face in reversed(faces):
        table.update(dict.fromkeys(covered_codepoints(face.path), face))
    return table


def _resolve_inherited(
    text: str, chosen: list[FontFace | None], faces: tuple[FontFace, ...], coverage: dict[int, FontFace]
) -> list[FontFace]:
    following: list[FontFace | None] = [None] * len(text)  # the next chosen face after each character
    upcoming: FontFace | None = None
    for i in range(len(text) - 1, -1, -1):
        following[i] = upcoming
        upcoming = chosen[i] or upcoming
    resolved: list[FontFace] = []
    for i, ch in enumerate(text):
        face = chosen[i]
        if face is None and is_attached(ch) and resolved:
            face = resolved[-1]
        if face is None:
            face = _neighbour_face(ord(ch), resolved[-1] if resolved else None, following[i], faces, coverage)
        resolved.append(face)
    return resolved


def _neighbour_face(
    cp: int,
    before: FontFace | None,
    after: FontFace | None,
    faces: tuple[FontFace, ...],
    coverage: dict[int, FontFace],
) -> FontFace:
    """A weak character joins the text face before it, else the one after it, if that face has it."""
    for face in (before, after):
        if face is not None and not face.is_emoji and cp in covered_codepoints(face.path):
            return face
    return coverage.get(cp, faces[0])
