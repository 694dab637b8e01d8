"""Commands found in runbooks: language, cleaned code and placeholders.

A code block in a runbook is one command (it may hold several lines). Its language comes from
the fence; an unlabeled fence gets a guess among bash, powershell, sql, promql, python and
yaml. Risk is decided in ``risk/``.
"""

from __future__ import annotations

import re

LANGUAGE_ALIASES: dict[str, str] = {
    "bash": "bash",
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "console": "bash",
    "shell-session": "bash",
    "shellsession": "bash",
    "terminal": "bash",
    "powershell": "powershell",
    "pwsh": "powershell",
    "ps": "powershell",
    "ps1": "powershell",
    "posh": "powershell",
    "cmd": "powershell",
    "bat": "powershell",
    "sql": "sql",
    "psql": "sql",
    "postgresql": "sql",
    "postgres": "sql",
    "pgsql": "sql",
    "mysql": "sql",
    "plpgsql": "sql",
    "promql": "promql",
    "prometheus": "promql",
    "logql": "promql",
    "python": "python",
    "py": "python",
    "python3": "python",
    "yaml": "yaml",
    "yml": "yaml",
    "json": "json",
    "text": "",
    "txt": "",
    "plaintext": "",
    "plain": "",
}

_PS_CMDLET = re.compile(r"\b[A-Z][a-z]+-[A-Z][A-Za-z]+\b")
_SQL_START = re.compile(
    r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|EXPLAIN|SHOW|GRANT|"
    r"REVOKE|VACUUM|ANALYZE|REINDEX|BEGIN|COMMIT|SET)\b",
    re.IGNORECASE | re.MULTILINE,
)
_PROMQL_SHAPE = re.compile(r"^[\s(]*[A-Za-z_:][\w:]*\s*(\{[^}]*\})?\s*(\[[0-9smhdwy]+\])?")
_PROMQL_FUNCS = (
    "rate",
    "irate",
    "increase",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "topk",
    "bottomk",
    "histogram_quantile",
    "absent",
    "delta",
    "deriv",
    "predict_linear",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "count_over_time",
    "quantile_over_time",
    "label_replace",
    "vector",
    "scalar",
    "time",
    "changes",
    "resets",
    "abs",
    "clamp_min",
    "clamp_max",
)


def normalize_language(info: str) -> str:
    """The fence's language, normalized; '' when the fence has none we know."""
    word = info.strip().split(maxsplit=1)[0].lower() if info.strip() else ""
    word = word.strip("{}.")
    return LANGUAGE_ALIASES.get(word, word if re.fullmatch(r"[a-z0-9+#-]{1,20}", word) else "")


_PROMQL_KEYWORDS = frozenset(
    "by without on ignoring group_left group_right bool and or unless offset inf nan up "
    "sum avg min max count topk bottomk quantile stddev stdvar count_values group".split()
) | frozenset(_PROMQL_FUNCS)


def promql_words_ok(text: str) -> bool:
    """Every bare word of the text (outside strings, label selectors and ranges) is a metric
    name (with ``_`` or ``:`` or a selector), a PromQL keyword or function, or a number."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', text[:4000])
    stripped = re.sub(r"\{[^{}]*\}", "{}", stripped)
    stripped = re.sub(r"\[[^\[\]]*\]", "[]", stripped)
    stripped = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", stripped
    )
    stripped = re.sub(r"(?<![\w.])\d+(\.\d+)?(e[+-]?\d+)?(?![\w.])", "0", stripped, flags=re.I)
    if re.search(r"[^\w\s:{}()\[\]=!<>+\-*/^%,.\"']|\s-[a-zA-Z]|(?:^|\s)/\w|\.\w", stripped):
        return False
    for match in re.finditer(r"[A-Za-z_:][\w:]*", stripped):
        word = match.group(0)
        after = stripped[match.end() : match.end() + 1]
        if word.lower() in _PROMQL_KEYWORDS or "_" in word or ":" in word or after in "{[":
            continue
        return False
    return True


def looks_like_promql(line: str) -> bool:
    """One line that is a PromQL query rather than a shell command: a selector with label
    matchers, a range, a PromQL function call or an underscored metric name, and no word
    that PromQL would not have (``pg_resetwal /var/lib/…`` is not PromQL)."""
    stripped = line.strip()
    if not stripped or stripped[0] in "-/.~$" or not promql_words_ok(stripped):
        return False
    first = re.match(r"[\s(]*([A-Za-z_:][\w:]*)", stripped)
    if first is None:
        return False
    name = first.group(1)
    rest = stripped[first.end() :].lstrip()
    if name in _PROMQL_FUNCS and rest.startswith("("):
        return bool(re.search(r"[_:{\[]", rest))
    if re.match(r"\{[^}]*[=~][^}]*\}", rest):
        return True
    return ("_" in name or ":" in name) and bool(
        rest == "" or re.match(r"(\[|==|!=|>=|<=|>|<|by\b|offset\b|[+*/-]\s)", rest)
    )


def guess_language(code: str) -> str:
    """Best guess for an unlabeled fence among bash, powershell, sql, promql, python, yaml."""
    lines = [ln for ln in code.splitlines() if ln.strip()]
    body = [ln for ln in lines if not ln.lstrip().startswith(("#", "--", "//"))]
    if not body:
        return "bash"
    text = "\n".join(body)
    if _PS_CMDLET.search(text) or "$env:" in text or re.search(r"\|\s*%\s*\{", text):
        return "powershell"
    if _SQL_START.match(body[0]) and not re.match(r"^\s*set\s+-", body[0]):
        return "sql"
    if re.search(r"^\s*(import \w|from [\w.]+ import |def \w+\(|class \w+[(:])", text, re.M):
        return "python"
    if all(looks_like_promql(ln) for ln in body):
        return "promql"
    yaml_lines = sum(1 for ln in body if re.match(r"^\s*(- )?[\w.-]+:(\s|$)", ln))
    if yaml_lines == len(body):
        return "yaml"
    return "bash"


# shell ($), PowerShell (PS C:\>), psql (db=> / db-> / db=#), mysql>, redis (127.0.0.1:6379>)
_PROMPT_RE = re.compile(
    r"^(\s*)(\$|PS [^>]*>|PS>|[A-Za-z_][\w-]*[=\-(][>#]|mysql>|MariaDB \[[^\]]*\]>|"
    r"redis[\w.:-]*>|[\d.]+:\d+(\[\d+\])?>)\s"
)


def split_prompts(code: str) -> tuple[list[str], list[str]]:
    """(command lines, output lines). Without any ``$ `` / ``PS> `` prompt every line is a
    command. With prompts, the prompt is removed and a line without one is output shown in
    the runbook, unless it continues a command ending in a backslash or backtick."""
    lines = code.rstrip("\n").splitlines()
    if not any(_PROMPT_RE.match(ln) for ln in lines):
        return lines, []
    commands: list[str] = []
    output: list[str] = []
    continuing = False
    for ln in lines:
        if _PROMPT_RE.match(ln):
            commands.append(_PROMPT_RE.sub(r"\1", ln, count=1))
        elif continuing or ln.lstrip().startswith("#") or not ln.strip():
            commands.append(ln)
        else:
            output.append(ln)
            continue
        continuing = ln.rstrip().endswith(("\\", "`"))
    return commands, output


def has_prompts(code: str) -> bool:
    return any(_PROMPT_RE.match(ln) for ln in code.splitlines())


def strip_prompts(code: str) -> str:
    """The commands of a block with shell prompts removed and shown output left out."""
    return "\n".join(split_prompts(code)[0]).strip("\n")


def unprompt(code: str) -> str:
    """Every line of the block with prompts removed; nothing is left out."""
    return "\n".join(_PROMPT_RE.sub(r"\1", ln, count=1) for ln in code.splitlines())


_ANGLE_RE = re.compile(r"<([A-Za-z_][A-Za-z0-9_.:/-]*)>")
_GO_TEMPLATE_RE = re.compile(r"\{\{-?\s*([^{}\n]{0,200}?)\s*-?\}\}")
_LABEL_REF_RE = re.compile(
    r"\$labels|\$value|\$externalLabels|\.(Labels|Annotations|CommonLabels|GroupLabels|"
    r"CommonAnnotations)\b"
)
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGN_RE = re.compile(
    r"(?:^|[\s;(&|])(?:export\s+|local\s+|declare\s+(?:-\w+\s+)?|readonly\s+)?"
    r"\$?([A-Za-z_][A-Za-z0-9_]*)\s*\+?=(?!=)"
)
_FOR_RE = re.compile(r"\b(?:for|foreach|read)\s*\(?\s*\$?([A-Za-z_][A-Za-z0-9_]*)")
# Variables the shell or PowerShell provides: never something a responder fills in.
_PROVIDED = {
    "HOME",
    "PATH",
    "USER",
    "PWD",
    "SHELL",
    "HOSTNAME",
    "RANDOM",
    "UID",
    "LANG",
    "TERM",
    "IFS",
    "OLDPWD",
    "SECONDS",
    "LINENO",
    "BASH_SOURCE",
    "_",
    "PSItem",
    "true",
    "false",
    "null",
    "args",
    "input",
    "this",
    "Error",
    "LASTEXITCODE",
    "PSScriptRoot",
    "env",
}


def _mask_single_quotes(code: str) -> str:
    """Blank out single-quoted strings: the shell does not expand ``$x`` inside them (awk's
    ``'{print $NF}'`` has no placeholder)."""
    return re.sub(r"'[^'\n]*'", lambda m: "'" + " " * (len(m.group(0)) - 2) + "'", code)


def _found_spans(code: str, language: str) -> list[tuple[int, int]]:
    """Every placeholder occurrence, in the order the kinds are looked for."""
    spans: list[tuple[int, int]] = []
    masked_templates = code
    for match in _GO_TEMPLATE_RE.finditer(code):
        if _LABEL_REF_RE.search(match.group(1)):
            spans.append(match.span())
        start, end = match.span()
        masked_templates = masked_templates[:start] + " " * (end - start) + masked_templates[end:]
    for match in _ANGLE_RE.finditer(masked_templates):
        spans.append(match.span())
    if language in ("bash", "powershell", "promql", "sql", "yaml", ""):
        scan = (
            masked_templates
            if language in ("powershell", "sql", "promql")
            else (_mask_single_quotes(masked_templates))
        )
        assigned = {m.group(1) for m in _ASSIGN_RE.finditer(scan)}
        assigned |= {m.group(1) for m in _FOR_RE.finditer(scan)}
        if language == "powershell":
            assigned |= {m.group(1) for m in re.finditer(r"\$([A-Za-z_]\w*)\s*=", scan)}
        for match in _VAR_RE.finditer(scan):
            name = match.group(1) or match.group(2)
            if name in assigned or name in _PROVIDED:
                continue
            after = scan[match.end() : match.end() + 1]
            if language == "powershell" and (after == ":" or name.lower() == "env"):
                continue  # $env:TEMP and scope-qualified names come from the host
            if language == "bash" and scan[max(0, match.start() - 1)] == "\\":
                continue  # escaped: \$x is literal
            spans.append(match.span())
    return spans


def placeholder_spans(code: str, language: str) -> list[tuple[int, int]]:
    """Where the placeholders of ``find_placeholders`` stand in the code: (start, end) of each
    occurrence, in order and never overlapping (``runbooks.fill`` fills them in place)."""
    kept: list[tuple[int, int]] = []
    for span in sorted(_found_spans(code, language)):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def find_placeholders(code: str, language: str) -> list[str]:
    """Values a responder (or tocsin, from alert labels) must fill in before running the
    command, as written: ``<PID>``, ``$NAMESPACE``, ``${REDIS_PASSWORD}``,
    ``{{ $labels.pod }}``. Variables the block assigns itself are not placeholders."""
    return list(dict.fromkeys(code[start:end] for start, end in _found_spans(code, language)))


def placeholder_key(placeholder: str) -> str:
    """The label a placeholder would be filled from: ``<pod-name>`` -> ``pod``,
    ``${NAMESPACE}`` -> ``namespace``, ``{{ $labels.instance }}`` -> ``instance``."""
    label = re.search(r"\$labels\.([A-Za-z_]\w*)|\.Labels\.([A-Za-z_]\w*)", placeholder)
    if label:
        return (label.group(1) or label.group(2)).lower()
    key = re.sub(r"[^A-Za-z0-9]+", "_", placeholder).strip("_").lower()
    for suffix in ("_name",):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
    return key
