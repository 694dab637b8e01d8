"""The vendored front-end files are the pinned packages' own, byte for byte."""

from __future__ import annotations

import hashlib

from tocsin.web.render import STATIC


def test_every_vendored_file_matches_its_pinned_checksum() -> None:
    lines = [
        line.split()
        for line in (STATIC / "VENDORED").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {line[0] for line in lines} == {"htmx.min.js", "sse.min.js"}
    for name, sha256, package, tarball, integrity in lines:
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == sha256, name
        assert tarball.startswith("https://registry.npmjs.org/"), package
        assert integrity.startswith("sha512-"), package
    for licence in ("LICENSE.htmx", "LICENSE.htmx-ext-sse"):
        assert (
            "Zero-Clause BSD" in (STATIC / licence).read_text()
            or "Zero Clause" in (STATIC / licence).read_text()
        )
