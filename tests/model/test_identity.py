"""Identities: lookalike and invisible variants are one person; unprintable ones are refused."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runbook.errors import IdentityError
from runbook.model.identity import check_identity, identity_key, same_identity
from runbook.model.review import same_person

#: The variants of ``alice`` the hostile review got accepted as a second person.
ALICE_VARIANTS = {
    "zero-width space": "alice\u200b",
    "soft hyphen": "ali\u00adce",
    "byte order mark": "\ufeffalice",
    "right-to-left override": "\u202ealice",
    "Cyrillic a": "\u0430lice",
    "Cyrillic e": "alic\u0435",
    "Cyrillic a, i, e": "\u0430l\u0456c\u0435",
    "fullwidth": "\uff41\uff4c\uff49\uff43\uff45",
    "dotless i": "al\u0131ce",
    "dotted capital I": "AL\u0130CE",
    "Greek omicron-free mix": "\u0251lice",
    "digit one for l": "a1ice",
    "capitals": "ALICE",
    "spaces around": "  alice ",
    "combining grapheme joiner": "ali\u034fce",
    "variation selector": "alice\ufe0f",
}


@pytest.mark.parametrize("variant", ALICE_VARIANTS.values(), ids=ALICE_VARIANTS.keys())
def test_every_variant_of_alice_is_alice(variant: str) -> None:
    assert same_identity("alice", variant)
    assert same_person(variant, "alice")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "bob"),
        ("alice", "alicia"),
        ("alice", "alice2"),
        ("alice@example.com", "alice@example.org"),
        ("Alice Smith", "Alice Smyth"),
        ("bob", "rob"),
    ],
)
def test_different_people_stay_different(a: str, b: str) -> None:
    assert not same_identity(a, b)


def test_whitespace_runs_and_compatibility_spaces_do_not_make_a_second_person() -> None:
    assert same_identity("Alice  Smith", "alice\u00a0smith")
    assert same_identity("Alice Smith", "alice\u3000smith")


def test_lookalike_letters_in_an_email_address() -> None:
    assert same_identity("bob@example.com", "B0B@\u0435xample.c\u043em")
    assert same_identity("bill", "biII")


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("alice\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("ali\u00adce", "U+00AD (SOFT HYPHEN)"),
        ("\ufeffalice", "U+FEFF"),
        ("\u202ealice", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("alice\x1b[2J", "U+001B"),
        ("alice\nbob", "U+000A"),
        ("ali\tce", "U+0009"),
        ("\u3164", "U+3164 (HANGUL FILLER)"),
        ("ali\u034fce", "U+034F"),
        ("alice\ud800", "U+D800"),
    ],
)
def test_unprintable_identities_are_refused_with_one_line(identity: str, reason: str) -> None:
    with pytest.raises(IdentityError) as caught:
        check_identity(identity, "--as")
    message = str(caught.value)
    assert message.startswith("--as ") and reason in message
    assert "\n" not in message and message.isprintable()


@pytest.mark.parametrize(
    "identity", ["alice", "José Núñez", "李小龙", "ユーザー", "o'brien+ops@x.io"]
)
def test_printable_identities_are_kept_as_given(identity: str) -> None:
    assert check_identity(f" {identity} ") == identity


#: Format characters (category Cf) an attacker can slip into a name.
FORMAT_CHARACTERS = st.characters(categories=["Cf"])


@given(
    identity=st.text(st.characters(codec="utf-8"), max_size=30),
    inserted=st.lists(st.tuples(st.integers(min_value=0), FORMAT_CHARACTERS), max_size=6),
)
@example(identity="alice", inserted=[(5, "\u200b")])
@example(identity="ALICE", inserted=[(1, "\u00ad"), (0, "\ufeff"), (3, "\u202e")])
def test_inserting_format_characters_never_makes_a_second_person(
    identity: str, inserted: list[tuple[int, str]]
) -> None:
    disguised = identity
    for position, char in inserted:
        at = position % (len(disguised) + 1)
        disguised = disguised[:at] + char + disguised[at:]
    assert all(unicodedata.category(c) == "Cf" for c in set(disguised) - set(identity))
    assert same_identity(identity, disguised)


@given(st.text(max_size=40))
def test_the_key_is_stable_and_never_fails(identity: str) -> None:
    key = identity_key(identity)
    assert identity_key(key) == key


def test_an_overlong_identity_is_refused_without_echoing_it_whole() -> None:
    with pytest.raises(IdentityError, match="longer than 254 characters") as caught:
        check_identity("a" * 100_000, "RUNBOOK_USER")
    assert len(str(caught.value)) < 200
