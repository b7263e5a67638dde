"""Which characters of a hook are drawn as emoji."""

from __future__ import annotations

# BMP characters drawn as emoji even without U+FE0F (Unicode's Emoji_Presentation set).
_EMOJI_BMP_RANGES = (
    (0x231A, 0x231B),
    (0x23E9, 0x23EC),
    (0x23F0, 0x23F0),
    (0x23F3, 0x23F3),
    (0x25FD, 0x25FE),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267F, 0x267F),
    (0x2693, 0x2693),
    (0x26A1, 0x26A1),
    (0x26AA, 0x26AB),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26CE, 0x26CE),
    (0x26D4, 0x26D4),
    (0x26EA, 0x26EA),
    (0x26F2, 0x26F3),
    (0x26F5, 0x26F5),
    (0x26FA, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2705, 0x2705),
    (0x270A, 0x270B),
    (0x2728, 0x2728),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
)
_VS16 = 0xFE0F
_VS15 = 0xFE0E


def is_emoji_at(text: str, index: int, emoji_cmap: frozenset[int]) -> bool:
    cp = ord(text[index])
    if cp not in emoji_cmap:
        return False
    if index + 1 < len(text) and ord(text[index + 1]) == _VS16:
        return True
    if index + 1 < len(text) and ord(text[index + 1]) == _VS15:
        return False  # text presentation asked for
    return cp >= 0x1F000 or any(lo <= cp <= hi for lo, hi in _EMOJI_BMP_RANGES)
