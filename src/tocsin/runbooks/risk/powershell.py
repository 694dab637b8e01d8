"""Risk of PowerShell: cmdlets by their verb (``Get-*`` reads, most others change), web
requests by their method, method calls and redirections that write, and the external commands
among the statements, read as shell.
"""

from __future__ import annotations

import re

from tocsin.runbooks.risk.shell import classify_shell
from tocsin.runbooks.risk.verdict import READ, Verdict, change, destroy, read
from tocsin.runbooks.risk.words import strip_between, strip_hash_comments

_PS_READ_VERBS = frozenset(
    """
    Get Select Where Sort Measure Format Test ConvertFrom ConvertTo Compare Group Find
    Resolve Search Show Trace Wait Read Import Join Split ForEach Foreach Write Out Tee Use
    Debug Receive Enter Exit Push Pop
    """.split()
)
_PS_ALIASES_READ = frozenset(
    """
    ls dir gci cat gc type ps gps select where sort echo write % ? foreach measure fl ft gm
    sls cd sl pwd gl cls history h irm iwr
    """.split()
)


def _top_level_statements(text: str) -> list[str]:
    """PowerShell statements and pipeline stages outside braces, parentheses and quotes: the
    places where an external command can start (``@{Name='x'; Expression={…}}`` holds none)."""
    out: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "\n;|":
            out.append("".join(current))
            current = []
            continue
        current.append(ch)
    out.append("".join(current))
    return out


def classify_powershell(code: str) -> Verdict:
    text = strip_between(code, "<#", "#>")
    text = strip_hash_comments(text).replace("`\n", " ")
    verdict = READ
    for match in re.finditer(r"\b([A-Z][A-Za-z]+)-([A-Z][A-Za-z]+)\b", text):
        verb, noun = match.group(1), match.group(2)
        if (verb == "Out" and noun == "File") or (verb == "Tee" and noun == "Object"):
            verdict |= change(f"{verb}-{noun} writes a file")
        elif verb == "Invoke" and noun in ("WebRequest", "RestMethod"):
            rest = text[match.end() : text.find("\n", match.end())]
            method = re.search(r"-Method\s+['\"]?(\w+)", rest, re.I)
            name = method.group(1).upper() if method else "GET"
            verdict |= read("HTTP GET") if name in ("GET", "HEAD") else change(f"HTTP {name}")
        elif (
            verb == "Import"
            and noun
            not in (
                "Module",
                "Csv",
                "Clixml",
                "LocalizedData",
                "PowerShellDataFile",
            )
        ) or verb not in _PS_READ_VERBS:
            verdict |= change(f"{verb}-{noun} changes state")
    if re.search(
        r"\b(irm|iwr|curl|wget|Invoke-RestMethod|Invoke-WebRequest)\b[^\n]*"
        r"-Method[:\s]+['\"]?(Post|Put|Patch)\b",
        text,
        re.I,
    ):
        verdict |= change("HTTP request that changes state")
    if re.search(r"\b(Invoke-RestMethod|Invoke-WebRequest|irm|iwr)\b[^\n]*\s@\w", text, re.I):
        verdict |= change("HTTP request with splatted parameters")
    if re.search(
        r"\.(Stop|Start|Restart|Set\w*|Update\w*|Create\w*|Add\w*|Save|Write\w*|"
        r"Move\w*|Copy\w*|Reset\w*)\s*\(",
        text,
    ):
        verdict |= change("a method call that changes state")
    if re.search(r"(?<![<>=-])>{1,2}\s*(?!\$null\b)['\"]?[\w.:\\/$]", text):
        verdict |= change("writes a file")
    for segment in _top_level_statements(text):
        words = segment.strip().split()
        if not words:
            continue
        head = words[0]
        if head.startswith((".\\", "./", "&")) or head.lower().endswith(
            (".ps1", ".bat", ".cmd", ".exe")
        ):
            verdict |= change(f"runs {head}")
            continue
        if re.fullmatch(r"[A-Z][A-Za-z]+-[A-Z][A-Za-z]+", head) or head[0] in "$[@\"'-0123456789.":
            continue  # cmdlets were read above; the rest are expressions and arguments
        if head.lower() in _PS_ALIASES_READ or head in (
            "if",
            "else",
            "elseif",
            "foreach",
            "for",
            "while",
            "return",
            "param",
        ):
            continue
        if head.lower() in ("rm", "del", "erase", "rd", "rmdir", "ri"):
            verdict |= destroy(f"{head} deletes files")
            continue
        verdict |= classify_shell(segment)
    return verdict
