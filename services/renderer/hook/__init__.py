"""The hook: a line of text drawn over the reaction template, as a transparent full-frame image.

How a hook becomes pixels, module by module:
1. text: keep the partner's line breaks (each one starts a paragraph), drop other control chars and
   explicit bidi embeddings; cut words into clusters (a character with its marks and joiners).
2. fit: the largest font size (between MAX and MIN, by frame width) at which every paragraph, wrapped
   (wrap) at spaces (or between clusters for a word wider than the box), fits its region (regions): the
   platform safe zone (clear of the top 10 %, the bottom 20 % and the right 15 %, where TikTok, Reels and
   Shorts draw their UI), or the part of it above or below the template's face. A hook too long even at
   the smallest size is cut with an ellipsis: it never raises.
3. shaping: every character gets the first face of the fallback chain that covers it (fallback; colour
   emoji for emoji: emoji), a bidi level from the Unicode Bidirectional Algorithm (bidi), then runs of one
   face and one level are shaped by raqm (HarfBuzz + FriBiDi: Arabic joined, Devanagari conjuncts) and put
   in visual order.
4. draw: white text with a dark outline and a soft shadow, so it reads on any background; colour emoji
   are drawn at the colour font's only bitmap size and scaled, monochrome ones (no colour font on the
   machine) like text.
"""
