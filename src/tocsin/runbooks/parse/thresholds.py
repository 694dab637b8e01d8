"""An alert's threshold as PromQL: an expression written in the text or a code span
(``up{job="backend"} == 0``), its ``for`` clause, or the rule in a YAML block of the section.
"""

from __future__ import annotations

import re
from typing import Any

from tocsin.runbooks.commands import normalize_language, promql_words_ok
from tocsin.runbooks.markdown import Section, codes_in
from tocsin.runbooks.text import load_yaml, parse_duration

_COMPARISON = re.compile(
    r"(==|!=|>=|<=|>|<)\s*(bool\s+)?-?[\d(][\d\s.()*+/-]*(e[+-]?\d+)?\s*\)?\s*$", re.I
)


_FOR_CLAUSE = re.compile(
    r"\s+for\s+(?:at\s+least\s+|more\s+than\s+|>\s*)?((?:\d+[a-z]+){2,}|\d+\s*\+?\s*[a-zA-Z]+)"
    r"\s*\.?\s*$",
    re.I,
)


def is_promql_expression(text: str, require_comparison: bool = True) -> bool:
    """A threshold written as PromQL (``up{job="backend"} == 0``, ``absent(up{job="x"})``)
    rather than prose (``95th percentile > 1 second``)."""
    if not text or len(text) > 2000:
        return False
    if text.count("(") != text.count(")") or text.count("{") != text.count("}"):
        return False
    if not promql_words_ok(text):
        return False
    if _COMPARISON.search(text):
        return bool(re.search(r"[A-Za-z_:][\w:]*", text))
    return not require_comparison and bool(
        re.search(r"[A-Za-z_:][\w:]*\s*(\{[^}]*[=~]|\[|\()", text)
    )


def expression(
    threshold: str | None, section: Section, name: str, shared: bool
) -> tuple[str | None, int | None]:
    """PromQL and ``for`` of the alert: from a Prometheus rule for this alert shown in a YAML
    block of its section, else from a threshold written as PromQL
    (``up{job="backend"} == 0 for 2 minutes``). A threshold shared by several alert names
    gives only the ``for``: which name it belongs to is not said."""
    rule = _rule_from_yaml(section, name)
    if rule is not None:
        return rule
    expr, for_s = None, None
    if threshold:
        text = threshold.strip()
        spans = re.findall(r"`([^`]+)`", text)
        found_for = _FOR_CLAUSE.search(text)
        if found_for:
            for_s = parse_duration(found_for.group(1))
            text = text[: found_for.start()]
        candidates = [s.strip() for s in spans] + [text.replace("`", "").strip()]
        candidates = [re.sub(r"\s+", " ", c) for c in candidates]
        if not shared:
            expr = next((c for c in candidates if is_promql_expression(c)), None)
            # a code span is written as an expression: it may be one without a comparison
            expr = expr or next((c for c in spans if is_promql_expression(c, False)), None)
    return expr, for_s


def _rules_for(section: Section, name: str) -> list[dict[str, Any]]:
    """Prometheus rules for the alert ``name`` shown in YAML blocks of the section and its
    sub-sections."""
    found = []
    for code in codes_in(section.blocks + [b for c in section.children for b in c.blocks]):
        if normalize_language(code.info) not in ("yaml", "") or "alert" not in code.code:
            continue
        found += [r for r in yaml_rules(load_yaml(code.code)) if r.get("alert") == name]
    return found


def _rule_from_yaml(section: Section, name: str) -> tuple[str, int | None] | None:
    for rule in _rules_for(section, name):
        expr = rule.get("expr")
        if isinstance(expr, (str, int, float)):
            for_value = rule.get("for")
            if len(str(expr)) > 4000:
                return None
            return str(expr).strip(), parse_duration(str(for_value)) if for_value else None
    return None


def rule_severity(section: Section, name: str) -> str | None:
    """The ``severity`` label of the alert's rule shown in a YAML block of its section."""
    for rule in _rules_for(section, name):
        labels = rule.get("labels")
        if isinstance(labels, dict) and isinstance(labels.get("severity"), (str, int)):
            return str(labels["severity"])
    return None


def yaml_rules(loaded: object, depth: int = 0) -> list[dict[str, Any]]:
    if depth > 6:
        return []
    if isinstance(loaded, dict):
        if "alert" in loaded and "expr" in loaded:
            return [loaded]
        return [r for v in loaded.values() for r in yaml_rules(v, depth + 1)]
    if isinstance(loaded, list):
        return [r for v in loaded for r in yaml_rules(v, depth + 1)]
    return []
