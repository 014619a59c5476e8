"""CSRF token comparison: constant time, and an empty token never matches."""

from __future__ import annotations

from bot.auth.csrf import new_token, token_matches


def test_tokens_are_random_and_long():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 40 for t in tokens)


def test_only_the_same_non_empty_token_matches():
    token = new_token()
    assert token_matches(token, token)
    assert not token_matches(token, token[:-1])
    assert not token_matches(token, "")
    assert not token_matches("", "")
    assert not token_matches(None, token)
