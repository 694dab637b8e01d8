"""Risk of one command block, the entry point of this package: the block's prompts and output
told apart, comments stripped, then two passes. A scan of the whole text for destructive
signatures (``signatures.py``), which also finds them inside quoted strings
(``sh -c "rm -rf …"``); then a reading by the block's language: shell, SQL, PowerShell or
PromQL. A block takes the highest risk of the commands in it.
"""

from __future__ import annotations

import re

from tocsin.runbooks.commands import has_prompts, split_prompts, unprompt
from tocsin.runbooks.risk.databases import REDIS_ALL
from tocsin.runbooks.risk.powershell import classify_powershell
from tocsin.runbooks.risk.shell import classify_shell, classify_sql, is_command_word
from tocsin.runbooks.risk.signatures import scan_destructive
from tocsin.runbooks.risk.sql import SQL_ALL
from tocsin.runbooks.risk.verdict import Verdict, change, destroy, read
from tocsin.runbooks.risk.words import TooComplex, strip_hash_comments, strip_sql_comments


def _starts_like_command(line: str) -> bool:
    """An unprompted line in a block with prompts: output, unless it starts like a command
    (a known command, a path, an assignment, SQL or Redis typed into a session, or a root
    prompt ``# cmd``)."""
    text = line.strip()
    if text.startswith("# "):
        text = text[2:].strip()
    words = text.split()
    if not words:
        return False
    first = words[0]
    if first.startswith(("./", "/", "~/", "../")) or re.match(r"[A-Za-z_]\w*=", first):
        return True
    if first.upper() in SQL_ALL or first.upper() in REDIS_ALL:
        return first.isupper() or text.rstrip().endswith(";")
    return is_command_word(first, words[1] if len(words) > 1 else "-")


MAX_CODE = 64 * 1024
MAX_LINE = 4096


def classify(code: str, language: str) -> Verdict:
    """Risk of one command block. The highest risk of anything in it wins; a block too large
    or convoluted to read is taken as destructive (unknown is never safe)."""
    if len(code) > MAX_CODE or any(len(line) > MAX_LINE for line in code.splitlines()):
        return destroy("too large to read safely")
    try:
        return _classify(code, language)
    except (TooComplex, RecursionError):
        return destroy("too convoluted to read safely")


def _classify(code: str, language: str) -> Verdict:
    full = code
    if language in ("bash", "powershell", ""):
        full = unprompt(code)
        commands, output = split_prompts(code)
        if has_prompts(code):
            # with prompts, "# systemctl restart x" is a root prompt, not a comment
            commands = [
                ln.lstrip().removeprefix("# ")
                if ln.lstrip().startswith("# ") and _starts_like_command(ln)
                else ln
                for ln in commands
            ]
        # what looks like output but starts like a command is read as a command
        commands += [ln.lstrip("# ") for ln in output if _starts_like_command(ln)]
        code = "\n".join(commands)
    if language == "sql":
        body = strip_sql_comments(full)
    elif language in ("bash", "powershell", "python", "yaml", ""):
        body = strip_hash_comments(full)
    else:
        body = full
    body = re.sub(r"[\\`]\r?\n\s*", " ", body)  # continuation lines are one command
    destructive = scan_destructive(body)
    if destructive is not None:
        return destructive
    if not body.strip():
        return read("only comments")
    if language == "promql":
        return read("PromQL query")
    if language == "sql":
        return classify_sql(code)
    if language == "powershell":
        return classify_powershell(code)
    if language in ("bash", ""):
        return classify_shell(code)
    if language == "yaml":
        return change("configuration to apply")
    if language == "json":
        return change("payload to send")
    return change(f"{language} code is not known to be read-only")
