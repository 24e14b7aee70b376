"""The edge rules of bootstrap/services/validate.py (issue 14, findings 2, 3, 4, 9)."""

from __future__ import annotations

import pytest

from bootstrap.errors import ValidationError
from bootstrap.services import validate
from bootstrap.web.security import same_origin_path


@pytest.mark.parametrize(
    "ident",
    ["mn@example.com", "a`id`{x}|y@example.com", "ha#sh@example.com", "a/b@example.com",
     "o'hara~+!$*=^?@example.com", "\u00e9t\u00e9@example.com", "\u65e5\u672c@example.com",
     "first.last@example.com"],
)
def test_rfc7542_identities_are_accepted(ident: str) -> None:
    assert validate.identity(ident) == (ident, "example.com")


@pytest.mark.parametrize(
    "ident",
    ["nl\n@example.com", "mn@example.com\n", "a\x00@example.com", "a\u2028@example.com",
     "a b@example.com", "a..b@example.com", ".a@example.com", "a\"b@example.com",
     "a,b@example.com", "a\u00a0b@example.com", "a@b@example.com", "x" * 250 + "@example.com",
     "a\x85@example.com", "mn@example.com.\n"],
)
def test_identities_outside_rfc7542_are_refused(ident: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate.identity(ident)
    assert "\n" not in str(exc.value) and "\x00" not in str(exc.value)


@pytest.mark.parametrize("name", ["nl\n.example.com", "mn.example.com\n", "a_b.example.com",
                                  "-a.example.com", "a" * 64 + ".example.com", "mn.123"])
def test_fqdn_labels_follow_rfc1035(name: str) -> None:
    with pytest.raises(ValidationError):
        validate.fqdn(name)


def test_like_pattern_escapes_wildcards() -> None:
    assert validate.like_pattern("a_b%c\\") == "%a\\_b\\%c\\\\%"


def test_numbers_have_ranges() -> None:
    assert validate.integer("5", "limit", 1, 10) == 5
    for bad in ("0", "11", "1e3", "five", True):
        with pytest.raises(ValidationError):
            validate.integer(bad, "limit", 1, 10)
    for bad in (3_000_000, float("inf"), float("nan"), 0):
        with pytest.raises(ValidationError):
            validate.number(bad, "days", 0, 36_500)


@pytest.mark.parametrize(
    "target",
    ["/\t/evil.example/path", "//evil.example", "/\\evil.example", "https://evil.example",
     "/\n/evil.example", "evil.example", "/ /x", "http:/evil.example", ""],
)
def test_redirects_stay_on_the_origin(target: str) -> None:
    assert same_origin_path(target) is None


def test_same_origin_paths_pass() -> None:
    for ok in ("/", "/subscribers?search=mn&page=2", "/subscribers/a%40example.com"):
        assert same_origin_path(ok) == ok
