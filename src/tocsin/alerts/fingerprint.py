"""Alertmanager's alert fingerprint: FNV-1a 64 over the sorted label names and values, each
followed by the separator byte 0xff, printed as ``%016x``."""

from __future__ import annotations

from collections.abc import Mapping

_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def fingerprint(labels: Mapping[str, str]) -> int:
    h = _OFFSET
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                h = ((h ^ byte) * _PRIME) & _MASK
    return h


def fingerprint_hex(labels: Mapping[str, str]) -> str:
    return f"{fingerprint(labels):016x}"
