"""Readers of the HTTP clients: curl (and curlie), wget and HTTPie. The method decides:
GET, HEAD and OPTIONS read, DELETE destroys, anything else changes.
"""

from __future__ import annotations

from tocsin.runbooks.risk.verdict import Verdict, change, destroy, read


def curl(args: list[str]) -> Verdict:
    method = ""
    data = False
    for i, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            flags = arg[1:]  # combined short options: -sXDELETE, -d'{…}'
            for k, ch in enumerate(flags):
                if ch == "X":
                    method = (flags[k + 1 :] or (args[i + 1] if i + 1 < len(args) else "")).upper()
                    break
                if ch in "dFT":
                    data = True
                    break
                if ch == "G":
                    data = False
            continue
        if arg in ("-X", "--request") and i + 1 < len(args):
            method = args[i + 1].upper()
        elif arg.startswith("--request="):
            method = arg.split("=", 1)[1].upper()
        elif arg in (
            "-d",
            "--data",
            "--data-raw",
            "--data-binary",
            "--data-urlencode",
            "-F",
            "--form",
            "--json",
            "-T",
            "--upload-file",
        ) or arg.startswith(("--data", "--json", "--form", "--upload-file")):
            data = True
    if "-G" in args or "--get" in args:
        data = False
    if not method:
        method = "POST" if data else "GET"
    if method in ("GET", "HEAD", "OPTIONS"):
        return read(f"HTTP {method}")
    if method == "DELETE":
        return destroy("HTTP DELETE")
    return change(f"HTTP {method} changes state")


def wget(args: list[str]) -> Verdict:
    if any(a.startswith(("--post", "--method", "--body")) for a in args):
        return change("HTTP request with a body")
    to_stdout = any(a in ("-O-", "-qO-", "--spider") for a in args) or (
        "-O" in args and args.index("-O") + 1 < len(args) and args[args.index("-O") + 1] == "-"
    )
    return read("wget to stdout") if to_stdout else change("wget writes a file")


def httpie(args: list[str]) -> Verdict:
    positional = [a for a in args if not a.startswith("-")]
    method = positional[0].upper() if positional and positional[0].isalpha() else ""
    if not method:
        has_data = any("=" in a for a in positional[1:])
        method = "POST" if has_data else "GET"
    return curl(["-X", method])
