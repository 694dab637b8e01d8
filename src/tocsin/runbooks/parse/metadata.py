"""Review metadata of a runbook (last updated, review cycle, owner, version): from the front
matter and the ``Label: value`` fields of the sections that are not alerts. A runbook-wide
stage, run last.
"""

from __future__ import annotations

import re
from typing import Any

from tocsin.runbooks.markdown import Section
from tocsin.runbooks.model import Runbook
from tocsin.runbooks.parse.names import field_lines
from tocsin.runbooks.text import parse_date, parse_review_cycle

_META_KEYS = {
    "last updated": "last_updated",
    "last_updated": "last_updated",
    "updated": "last_updated",
    "lastupdated": "last_updated",
    "last reviewed": "last_updated",
    "date": "last_updated",
    "last review": "last_updated",
    "reviewed": "last_updated",
    "review frequency": "review_cycle",
    "review cycle": "review_cycle",
    "review_cycle": "review_cycle",
    "review schedule": "review_cycle",
    "review": "review_cycle",
    "review interval": "review_cycle",
    "review every": "review_cycle",
    "review period": "review_cycle",
    "reviewed on": "last_updated",
    "last modified": "last_updated",
    "updated at": "last_updated",
    "lastreviewed": "last_updated",
    "document owner": "owner",
    "owner": "owner",
    "maintained by": "owner",
    "maintainer": "owner",
    "team": "owner",
    "version": "version",
}


def metadata(runbook: Runbook, sections: list[Section], front: dict[str, Any]) -> None:
    meta = runbook.metadata
    for key, value in list(front.items())[:200]:
        if isinstance(value, (str, int, float)) or hasattr(value, "isoformat"):
            meta.fields[str(key)[:200]] = str(value)[:1000]
    for section in sections:
        for label, value, _line, _no in field_lines(section.blocks):
            if value and len(meta.fields) < 200:
                meta.fields.setdefault(label, value)
    for key, value in meta.fields.items():
        attr = _META_KEYS.get(re.sub(r"[\s_-]+", " ", key.lower()).strip())
        if attr and getattr(meta, attr) is None:
            setattr(meta, attr, value)
    when = parse_date(meta.last_updated)
    meta.last_updated_date = when.isoformat() if when else None
    meta.review_cycle_days = parse_review_cycle(meta.review_cycle)
