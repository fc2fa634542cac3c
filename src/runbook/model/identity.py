"""Identities compared as a person reads them, not as their code points differ.

A recorded identity (``planned_by``, ``reviewer``…) is kept exactly as given, but two
identities are compared by their :func:`identity_key`, so that ``alice``, ``ALICE``,
``alice\\u200b`` (an invisible character), ``\\u0430lice`` (Cyrillic a), fullwidth
``\\uff41\\uff4c\\uff49\\uff43\\uff45``, ``al\\u0131ce`` (dotless i) and
``AL\\u0130CE`` (dotted capital I) are one person. The key:

1. NFKC, so compatibility forms (fullwidth, ligatures, superscripts) become plain letters;
2. drops format characters (category Cf: zero-width spaces, BOM, bidi overrides, soft
   hyphen) and the other default-ignorable code points (variation selectors, the combining
   grapheme joiner, Hangul fillers), which render as nothing;
3. casefolds;
4. reads ``l`` as ``i``: TR39 says ``I`` looks like ``l`` and casefolding says ``I`` is
   ``i``, and one comparison cannot keep both without merging the two (``biII`` is ``bill``);
5. drops a combining dot above after ``i`` or ``j`` (``İ`` casefolds to ``i̇``), which
   readers do not see on a letter that already has a dot;
6. collapses runs of whitespace to one space and trims the ends;
7. maps every character to its prototype in Unicode's confusables table (TR39's skeleton,
   data from the ``confusable-homoglyphs`` package) and repeats from step 1 until nothing
   changes (``0`` maps to ``O``, which folds to ``o``, so ``b0b`` is ``bob``).

The key errs on the side of merging: two real people whose names differ only by lookalike
characters are treated as one, which at worst asks for a third reviewer.

:func:`check_identity` refuses an identity that cannot be read at all: empty, or holding a
control, format or other invisible character.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from importlib import resources

from runbook.errors import IdentityError

#: Default_Ignorable_Code_Point (DerivedCoreProperties.txt) beyond category Cf: invisible
#: in any rendering, so never part of what a reader sees.
_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

_DOT_ABOVE = "\u0307"
_MAX_ROUNDS = 8
#: Longer than any name or email address; keeps a hostile ``--as`` from costing anything.
MAX_IDENTITY_LENGTH = 254


def is_invisible(char: str) -> bool:
    """Whether a character renders as nothing: a format character or a default ignorable."""
    if unicodedata.category(char) == "Cf":
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE_RANGES)


def check_identity(identity: str, where: str = "identity") -> str:
    """Return ``identity`` trimmed, or raise :class:`IdentityError` if it is not printable.

    Refused: an empty identity, one made only of spaces, and one holding a control, format
    or other invisible character (or a line break or tab), which would let two identities
    look alike on screen and differ in the store.
    """
    trimmed = identity.strip()
    if not trimmed:
        raise IdentityError(where, identity, "is empty")
    if len(trimmed) > MAX_IDENTITY_LENGTH:
        raise IdentityError(
            where, trimmed[:40] + "…", f"is longer than {MAX_IDENTITY_LENGTH} characters"
        )
    for char in trimmed:
        if is_invisible(char) or not char.isprintable():
            code = f"U+{ord(char):04X}"
            name = unicodedata.name(char, "unnamed character")
            raise IdentityError(where, identity, f"holds the unprintable {code} ({name})")
    # _fold, not identity_key: the confusables table costs ~0.1 s to build, and checking who
    # is acting must not pay it on every command (the table maps only spaces to nothing, and
    # _fold already drops those).
    if not _fold(trimmed):
        raise IdentityError(where, identity, "has no visible character")
    return trimmed


def identity_key(identity: str) -> str:
    """The form two identities are compared in (see the module's docstring)."""
    text = _fold(identity)
    # The skeleton's prototypes are not all in normal form ('%' maps to 'º/₀'): fold and map
    # again until nothing changes, so that the key of a key is itself.
    for _ in range(_MAX_ROUNDS):
        mapped = _fold(_skeleton(text))
        if mapped == text:
            break
        text = mapped
    return text


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(char for char in text if not is_invisible(char)).casefold()
    text = text.replace("l", "i").replace("i" + _DOT_ABOVE, "i").replace("j" + _DOT_ABOVE, "j")
    return " ".join(text.split())


def same_identity(a: str, b: str) -> bool:
    """Whether two recorded identities name the same person."""
    return identity_key(a) == identity_key(b)


def _skeleton(text: str) -> str:
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(char, char) for char in decomposed))


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype, from the package's confusables data.

    The data lists, for a character of confusables.txt, its prototype, and for a prototype
    every character mapped to it; so each class is a star around its prototype: the member
    that every other member points to. In a class of two either may be it: prefer the one
    of several characters (a source is always one), then ASCII, then the lower code point.
    """
    source = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    data: dict[str, list[dict[str, str]]] = json.loads(source.read_text(encoding="utf-8"))
    neighbours: dict[str, set[str]] = {}
    for char, homoglyphs in data.items():
        # Right-to-left glyphs come wrapped in LEFT-TO-RIGHT MARKs for display.
        node = _visible(char)
        for homoglyph in homoglyphs:
            other = _visible(homoglyph["c"])
            if node and other and node != other:
                neighbours.setdefault(node, set()).add(other)
                neighbours.setdefault(other, set()).add(node)
    table: dict[str, str] = {}
    for node, linked in neighbours.items():
        if len(node) != 1:
            continue
        candidates = [node, *linked]
        prototype = max(
            candidates,
            key=lambda c: (len(neighbours.get(c, ())), len(c) > 1, c.isascii(), -ord(c[0])),
        )
        if prototype != node:
            table[node] = prototype
    return table


def _visible(text: str) -> str:
    return "".join(char for char in text if not is_invisible(char))
