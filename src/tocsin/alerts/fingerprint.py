"""Alertmanager's alert fingerprint: FNV-1a 64 over the sorted label names and values, each
followed by the separator byte 0xff, printed as ``%016x``.

The whole fingerprint runs in C (``_fnv``, built when the package is installed with a compiler
at hand) and in Python otherwise; both give the same value (tests/alerts/test_alerts.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

_OFFSET = 0xCBF29CE484222325
_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF


def fnv1a64_python(data: bytes) -> int:
    h = _OFFSET
    for byte in data:
        h = ((h ^ byte) * _PRIME) & _MASK
    return h


fnv1a64: Callable[[bytes], int]
fingerprint_hex: Callable[[Mapping[str, str]], str]


def label_bytes(labels: Mapping[str, str]) -> bytes:
    """What the hash reads: ``name 0xff value 0xff`` for each label, names sorted."""
    parts: list[bytes] = []
    for name in sorted(labels):
        parts += (name.encode(), labels[name].encode())
    return b"\xff".join(parts) + b"\xff" if parts else b""


def fingerprint_hex_python(labels: Mapping[str, str]) -> str:
    return f"{fnv1a64(label_bytes(labels)):016x}"


try:
    from tocsin.alerts import _fnv  # type: ignore[attr-defined]

    fnv1a64 = _fnv.fnv1a64
    fingerprint_hex = _fnv.fingerprint_hex  # a dict's labels, without building the bytes
except ImportError:  # installed without a C compiler
    fnv1a64 = fnv1a64_python
    fingerprint_hex = fingerprint_hex_python
