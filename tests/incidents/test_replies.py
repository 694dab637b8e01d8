"""What a reply to an SMS page, or a key pressed on a call, asks (pure)."""

from __future__ import annotations

import pytest

from tocsin.incidents.replies import Reply, masked, parse_digits, parse_reply


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", Reply("acknowledge")),
        (" 1 ", Reply("acknowledge")),
        ("1.", Reply("acknowledge")),
        ("ack", Reply("acknowledge")),
        ("ACK", Reply("acknowledge")),
        ("Acknowledge", Reply("acknowledge")),
        ("2", Reply("resolve")),
        ("resolve", Reply("resolve")),
        ("res", Reply("resolve")),
        ("1 12", Reply("acknowledge", 12)),
        ("ack 12", Reply("acknowledge", 12)),
        ("ack #12", Reply("acknowledge", 12)),
        ("resolve 12", Reply("resolve", 12)),
        ("2   7!", Reply("resolve", 7)),
        ("help", Reply("help")),
        ("", Reply("help")),
        ("3", Reply("help")),
        ("12", Reply("help")),
        ("ack twelve", Reply("help")),
        ("1 12 13", Reply("help")),
        ("please acknowledge", Reply("help")),
        ("stop", Reply("help")),
        ("ack -1", Reply("help")),
        ("1" + " " * 500 + "2", Reply("help")),
        ("ack 1234567890123", Reply("help")),
    ],
)
def test_a_reply_reads_as_an_action(body: str, expected: Reply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    ("digits", "action"),
    [("1", "acknowledge"), ("2", "resolve"), ("3", "help"), ("", "help"), ("12", "help")],
)
def test_a_key_pressed_reads_as_an_action(digits: str, action: str) -> None:
    assert parse_digits(digits) == action


@pytest.mark.parametrize(
    ("number", "shown"),
    [("+14155550123", "…0123"), ("+123", "…123"), ("", "…"), ("+1 (415) 555-0199", "…0199")],
)
def test_a_number_shows_only_its_last_four_digits(number: str, shown: str) -> None:
    assert masked(number) == shown
