"""Greedy line wrapping, and the search for the largest thing that fits."""

from __future__ import annotations

from collections.abc import Callable

from services.renderer.hook.text import clusters


def wrap_paragraph(
    paragraph: str, measure: Callable[[str], float], max_width: float, max_lines: int | None = None
) -> list[str]:
    """Greedy wrap at spaces; a word wider than the line is broken between clusters. With max_lines, stops
    once there are more lines than that: the caller only needs to know that they do not fit."""
    limit = len(paragraph) + 1 if max_lines is None else max_lines
    lines: list[str] = []
    current = ""
    for word in paragraph.split(" "):
        if len(lines) > limit:
            return lines
        if not word:
            continue
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
            current = ""
        if measure(word) <= max_width:
            current = word
            continue
        pieces = _break_word(word, measure, max_width, limit + 1 - len(lines))
        lines.extend(pieces[:-1])
        current = pieces[-1]
    if current or not lines:
        lines.append(current)
    return lines


def _break_word(word: str, measure: Callable[[str], float], max_width: float, max_pieces: int) -> list[str]:
    """Pieces of as many clusters as fit (at least one each), at most max_pieces of them (the last holds
    the rest). Each piece's length is searched for from the last one's, so a long word costs a few
    measurements per line rather than one per character."""
    pieces: list[str] = []
    rest = clusters(word)
    guess = 1
    while rest and len(pieces) < max_pieces - 1:
        count = _fitting_prefix(rest, measure, max_width, guess)
        if count == 1 and len(rest[0]) > 1 and measure(rest[0]) > max_width:
            rest[0:1] = list(rest[0])  # one cluster wider than the line: break between its characters
            continue
        pieces.append("".join(rest[:count]))
        rest = rest[count:]
        guess = count
    if rest or not pieces:
        pieces.append("".join(rest))
    return pieces


def _fitting_prefix(parts: list[str], measure: Callable[[str], float], max_width: float, guess: int) -> int:
    """The most leading parts that fit on one line; one when not even that does."""
    return largest_fitting(2, len(parts), guess, lambda n: measure("".join(parts[:n])) <= max_width) or 1


def largest_fitting(low: int, high: int, guess: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] for which fits(n) (true up to some n, false after), None if none:
    searched outward from guess, doubling the step, then bisected. A good guess costs two or three calls."""
    if low > high:
        return None
    guess = max(low, min(guess, high))
    step = 1
    if fits(guess):
        good, bad = guess, high + 1
        while good + step <= high:
            if not fits(good + step):
                bad = good + step
                break
            good, step = good + step, step * 2
    else:
        good, bad = low - 1, guess
        while bad - step >= low:
            if fits(bad - step):
                good = bad - step
                break
            bad, step = bad - step, step * 2
    while bad - good > 1:  # good fits (or is below low), bad does not (or is above high)
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good if good >= low else None
