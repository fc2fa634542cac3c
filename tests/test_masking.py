"""The masker hides a secret in every form it takes on its way out of a run."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.masking import MASK, SecretMasker

SECRET = "s3cr3t/pa$$w0rd+with=odd&chars"


def test_plain_url_json_and_aligned_base64_forms_are_masked() -> None:
    masker = SecretMasker([SECRET])
    for form in (
        SECRET,
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
    ):
        assert masker.mask(f"before {form} after") == f"before {MASK} after", form


def test_quote_with_its_default_safe_slash_is_masked() -> None:
    # urllib.parse.quote keeps "/" by default: a secret with a slash took a form of its own.
    masker = SecretMasker([SECRET])
    assert quote(SECRET) != quote(SECRET, safe="")
    assert quote(SECRET) not in masker.mask(f"url=https://x/?p={quote(SECRET)}")


def test_base64_of_a_secret_inside_a_longer_text_is_masked_at_every_offset() -> None:
    masker = SecretMasker([SECRET])
    for prefix in ("", "b", "bo", "bob:", "alice:", "x" * 7):
        encoded = base64.b64encode(f"{prefix}{SECRET}".encode()).decode()
        masked = masker.mask(f"Authorization: Basic {encoded}")
        assert MASK in masked, prefix
        assert encoded not in masked, prefix


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(min_size=8, max_size=40).filter(lambda s: "\x00" not in s),
    prefix=st.binary(max_size=9),
    suffix=st.binary(max_size=9),
)
def test_any_base64_embedding_of_a_secret_is_changed_by_masking(
    secret: str, prefix: bytes, suffix: bytes
) -> None:
    masker = SecretMasker([secret])
    encoded = base64.b64encode(prefix + secret.encode() + suffix).decode()
    assert masker.mask(encoded) != encoded


def test_short_base64_fragments_are_not_registered() -> None:
    # A 4-character fragment would mask unrelated base64 text by chance.
    masker = SecretMasker(["abcd"])
    assert masker.mask("QUFBQQ==") == "QUFBQQ=="


def test_a_secret_from_bytes_that_are_not_utf8_is_masked_in_its_bytes_forms() -> None:
    raw = b"pw-\xff\xfe-secret"
    secret = raw.decode("utf-8", "surrogateescape")  # as os.environ decodes it
    masker = SecretMasker([secret, "lone-\ud800-surrogate"])
    assert masker.mask(base64.b64encode(raw).decode()) == MASK
    assert masker.mask(quote(raw)) == MASK
