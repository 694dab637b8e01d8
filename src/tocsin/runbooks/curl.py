"""A bash line that is one ``curl`` or ``wget`` GET or HEAD, read into what the http runner
sends (pure).

A runbook's health check (``curl -sf http://pebble-api:8080/healthz``) can run as an HTTP
request with no shell at all: ``parse_check`` reads the line as bash would split it and
accepts it only when it is one ``curl`` or ``wget`` command that reads: a GET or a HEAD of
one http(s) URL, with headers, a timeout, and whether redirects are followed. Anything else is
refused with the reason, and the line is left to a shell runner (if one serves it):

- shell syntax beyond quoting: ``$`` and backticks (expansions, also inside double quotes),
  ``;``, ``&``, ``|``, ``<``, ``>``, parentheses, braces, a leading ``~``, a second line;
- a body or an upload (``-d``, ``--data*``, ``--json``, ``-F``, ``-T``; wget's ``--post-*``,
  ``--body-*``), a method other than GET and HEAD;
- a file written or read (``-o FILE`` but ``/dev/null``, ``-O``, ``-D``, ``-c``, ``-K``,
  ``-w @file``, ``-H @file``; wget without ``-O -``, ``-O /dev/null`` or ``--spider``;
  wget's ``-i``, ``-o``, ``-e``), a Unix socket, a proxy, credentials (``-u``, a user in
  the URL, cookies);
- ``-k``/``--insecure`` and ``--no-check-certificate``: certificates are always checked;
- any option not named here, and a URL that curl would glob (``{}``, ``[]`` outside an
  IPv6 host).

Accepted and ignored, because the runner's output already says it: ``-s``, ``-S``, ``-f``,
``-i``, ``-v``, ``-g``, ``--compressed``, ``-o /dev/null``, ``-w FORMAT``,
``--connect-timeout``, ``--max-redirs``; wget's ``-q``, ``-nv``, ``-S``, ``--tries``.
Unquoted ``*`` and ``?`` are taken literally (bash keeps a pattern that matches no file).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Method = Literal["GET", "HEAD"]


@dataclass(frozen=True)
class HttpCheck:
    method: Method
    url: str  # http(s), with a host; a URL written without a scheme gets http://
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float | None = None  # curl's -m / --max-time, wget's -T / --timeout
    follow: bool = False  # redirects: curl -L; wget follows unless --max-redirect=0
    tool: str = "curl"


@dataclass(frozen=True)
class Refused:
    why: str


class _No(Exception):
    """The line is refused; the message says why."""


_OPERATORS = set(";&|<>()")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_check(text: str) -> HttpCheck | Refused:
    """The HTTP request a bash line makes, when it is one ``curl`` or ``wget`` GET or HEAD
    that writes no file; otherwise why not."""
    try:
        words = shell_words(text)
        if not words or words[0] not in ("curl", "wget"):
            raise _No("it is not one curl or wget command")
        check = _curl(words[1:]) if words[0] == "curl" else _wget(words[1:])
    except _No as no:
        return Refused(str(no))
    return check


def shell_words(text: str) -> list[str]:
    """The words bash would make of one simple command with no expansion; ``_No`` when the
    line holds anything but words, quotes and escapes."""
    text = text.strip()
    words: list[str] = []
    word: list[str] = []
    in_word = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if (ord(ch) < 0x20 and ch not in "\t\n") or ord(ch) == 0x7F:
            raise _No("it holds a control character")
        if ch == "\\":
            if i + 1 >= n:
                raise _No("it ends with a backslash")
            if text[i + 1] != "\n":  # a backslash and a newline join the lines
                word.append(text[i + 1])
                in_word = True
            i += 2
            continue
        if ch in " \t":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            i += 1
            continue
        if ch == "\n":
            raise _No("it holds more than one line")
        if ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise _No("a quote does not end")
            word.append(text[i + 1 : end])
            in_word = True
            i = end + 1
            continue
        if ch == '"':
            i = _double_quoted(text, i, word)
            in_word = True
            continue
        if ch in "$`":
            raise _No(f"the shell would expand {ch}")
        if ch in _OPERATORS:
            raise _No(f"it holds {ch}: a pipe, a redirection or another command")
        if ch in "{}":
            raise _No("the shell would expand braces")
        if not in_word and ch == "#":  # a comment to the end of the line
            break
        if not in_word and ch == "~":
            raise _No("the shell would expand ~")
        word.append(ch)
        in_word = True
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def _double_quoted(text: str, start: int, word: list[str]) -> int:
    """Add a double-quoted run to ``word``; the index after it."""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return i + 1
        if ch in "$`":
            raise _No(f"the shell would expand {ch} inside double quotes")
        if (ord(ch) < 0x20 and ch not in "\t") or ord(ch) == 0x7F:
            raise _No("it holds a control character")
        if ch == "\\" and i + 1 < n and text[i + 1] in '$`"\\\n':
            if text[i + 1] != "\n":
                word.append(text[i + 1])
            i += 2
            continue
        word.append(ch)
        i += 1
    raise _No("a quote does not end")


def _seconds(value: str, option: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise _No(f"{option} needs a number of seconds, not {value!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise _No(f"{option} needs a number of seconds above 0")
    return seconds


def _header(value: str) -> tuple[str, str]:
    if value.startswith("@"):
        raise _No("headers read from a file are not allowed")
    name, colon, rest = value.partition(":")
    if not colon or not _HEADER_NAME.fullmatch(name) or any(c in rest for c in "\r\n\0"):
        raise _No(f"{value!r} is not a header (Name: value)")
    if name.lower() in ("host", "cookie", "authorization", "proxy-authorization"):
        raise _No(f"the {name} header is not allowed")
    return name, rest.strip()


def _url(value: str) -> str:
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _No("the URL holds a space or a control character")
    url = value if "://" in value else f"http://{value}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _No(f"the URL is not valid: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _No(f"the URL's scheme is {parts.scheme}, not http or https")
    if not parts.hostname:
        raise _No("the URL has no host")
    if "@" in parts.netloc:
        raise _No("credentials in the URL are not allowed")
    del port
    rest = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    if any(c in rest for c in "{}[]") or any(c in parts.netloc for c in "{}"):
        raise _No("curl would glob {} or [] in the URL")
    return url


# curl's options this reader knows: those ignored (the output says it anyway), those that
# take a value, and those refused with the reason
_CURL_FLAGS = {
    "-s": "--silent",
    "-S": "--show-error",
    "-f": "--fail",
    "-L": "--location",
    "-I": "--head",
    "-i": "--include",
    "-v": "--verbose",
    "-g": "--globoff",
}
_CURL_LONG_FLAGS = {
    *_CURL_FLAGS.values(),
    "--fail-with-body",
    "--compressed",
    "--no-progress-meter",
}
_CURL_VALUES = {
    "-m": "--max-time",
    "-H": "--header",
    "-X": "--request",
    "-o": "--output",
    "-w": "--write-out",
    "-A": "--user-agent",
    "-e": "--referer",
}
_CURL_LONG_VALUES = {*_CURL_VALUES.values(), "--connect-timeout", "--max-redirs"}
_CURL_REFUSED = {
    "-d": "it sends data",
    "-F": "it uploads a form",
    "-T": "it uploads a file",
    "-K": "it reads a config file",
    "-k": "certificates are always checked (-k is not allowed)",
    "-x": "a proxy is not allowed",
    "-u": "credentials are not allowed",
    "-b": "cookies are not allowed",
    "-c": "it writes a cookie file",
    "-D": "it writes the headers to a file",
    "-O": "it writes a file",
    "-G": "it sends data",
    "-E": "client certificates are not allowed",
}
_CURL_LONG_REFUSED = {
    "--data": "it sends data",
    "--json": "it sends data",
    "--form": "it uploads a form",
    "--upload-file": "it uploads a file",
    "--config": "it reads a config file",
    "--unix-socket": "a Unix socket is not allowed",
    "--abstract-unix-socket": "a Unix socket is not allowed",
    "--insecure": "certificates are always checked (--insecure is not allowed)",
    "--proxy": "a proxy is not allowed",
    "--user": "credentials are not allowed",
    "--cookie": "cookies are not allowed",
    "--cookie-jar": "it writes a cookie file",
    "--dump-header": "it writes the headers to a file",
    "--remote-name": "it writes a file",
    "--output-dir": "it writes a file",
    "--get": "it sends data",
}


class _Request:
    """What the options of a line said so far."""

    def __init__(self, tool: str, follow: bool) -> None:
        self.tool = tool
        self.method: Method = "GET"
        self.urls: list[str] = []
        self.headers: list[tuple[str, str]] = []
        self.timeout_s: float | None = None
        self.follow = follow

    def done(self) -> HttpCheck:
        if len(self.urls) != 1:
            raise _No(f"it names {len(self.urls)} URLs, not one")
        return HttpCheck(
            self.method, self.urls[0], tuple(self.headers), self.timeout_s, self.follow, self.tool
        )


def _curl_value(request: _Request, option: str, value: str) -> None:
    if option == "--max-time":
        request.timeout_s = _seconds(value, option)
    elif option == "--connect-timeout":
        _seconds(value, option)
    elif option == "--max-redirs":
        if not re.fullmatch(r"-?[0-9]{1,4}", value):
            raise _No("--max-redirs needs a number")
    elif option == "--header":
        request.headers.append(_header(value))
    elif option == "--user-agent":
        request.headers.append(("User-Agent", _header(f"User-Agent: {value}")[1]))
    elif option == "--referer":
        request.headers.append(("Referer", _header(f"Referer: {value}")[1]))
    elif option == "--request":
        if value.upper() not in ("GET", "HEAD"):
            raise _No(f"the method {value} is not GET or HEAD")
        request.method = "HEAD" if value.upper() == "HEAD" else request.method
    elif option == "--output":
        if value != "/dev/null":
            raise _No("it writes a file (-o other than /dev/null)")
    elif option == "--write-out" and value.startswith("@"):
        raise _No("it reads the --write-out format from a file")


def _curl_flag(request: _Request, option: str) -> None:
    if option == "--location":
        request.follow = True
    elif option == "--head":
        request.method = "HEAD"


def _curl(args: list[str]) -> HttpCheck:
    request = _Request("curl", follow=False)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            request.urls.extend(_url(a) for a in args[i:])
            break
        if arg.startswith("--"):
            if arg in _CURL_LONG_FLAGS:
                _curl_flag(request, arg)
            elif arg in _CURL_LONG_VALUES:
                if i >= len(args):
                    raise _No(f"{arg} needs a value")
                _curl_value(request, arg, args[i])
                i += 1
            else:
                refused = next(
                    (why for name, why in _CURL_LONG_REFUSED.items() if arg.startswith(name)),
                    None,
                )
                raise _No(refused or f"curl's {arg} is not allowed here")
            continue
        if arg.startswith("-") and len(arg) > 1:
            k = 1
            while k < len(arg):
                short = f"-{arg[k]}"
                k += 1
                if short in _CURL_FLAGS:
                    _curl_flag(request, _CURL_FLAGS[short])
                elif short in _CURL_VALUES:
                    if k < len(arg):
                        value, k = arg[k:], len(arg)
                    elif i < len(args):
                        value, i = args[i], i + 1
                    else:
                        raise _No(f"{short} needs a value")
                    _curl_value(request, _CURL_VALUES[short], value)
                else:
                    raise _No(_CURL_REFUSED.get(short) or f"curl's {short} is not allowed here")
            continue
        request.urls.append(_url(arg))
    return request.done()


_WGET_FLAGS = {"-q": "--quiet", "-S": "--server-response", "-nv": "--no-verbose"}
_WGET_LONG_FLAGS = {"--quiet", "--server-response", "--no-verbose", "--spider"}
_WGET_VALUES = {"-O": "--output-document", "-T": "--timeout", "-U": "--user-agent"}
_WGET_LONG_VALUES = {
    "--output-document",
    "--timeout",
    "--user-agent",
    "--header",
    "--max-redirect",
    "--tries",
    "--method",
}
_WGET_REFUSED = {
    "--post": "it sends data",
    "--body": "it sends data",
    "--no-check-certificate": "certificates are always checked",
    "--input-file": "it reads a file of URLs",
    "--output-file": "it writes a log file",
    "--append-output": "it writes a log file",
    "--execute": "it runs wgetrc commands",
    "--config": "it reads a config file",
    "--load-cookies": "cookies are not allowed",
    "--save-cookies": "it writes a cookie file",
    "--user": "credentials are not allowed",
    "--password": "credentials are not allowed",
    "--http-user": "credentials are not allowed",
    "--http-password": "credentials are not allowed",
    "--recursive": "it fetches more than one URL",
    "--mirror": "it fetches more than one URL",
    "--directory-prefix": "it writes files",
    "--background": "it runs in the background",
}
_WGET_SHORT_REFUSED = {
    "-i": "it reads a file of URLs",
    "-o": "it writes a log file",
    "-a": "it writes a log file",
    "-e": "it runs wgetrc commands",
    "-r": "it fetches more than one URL",
    "-m": "it fetches more than one URL",
    "-P": "it writes files",
    "-b": "it runs in the background",
}


def _wget_value(request: _Request, option: str, value: str, output: list[str]) -> None:
    if option == "--output-document":
        output.append(value)
    elif option == "--timeout":
        request.timeout_s = _seconds(value, option)
    elif option == "--user-agent":
        request.headers.append(("User-Agent", _header(f"User-Agent: {value}")[1]))
    elif option == "--header":
        request.headers.append(_header(value))
    elif option == "--max-redirect":
        if not re.fullmatch(r"[0-9]{1,4}", value):
            raise _No("--max-redirect needs a number")
        request.follow = int(value) > 0
    elif option == "--tries":
        if not re.fullmatch(r"[0-9]{1,4}", value):
            raise _No("--tries needs a number")
    elif option == "--method":
        if value.upper() not in ("GET", "HEAD"):
            raise _No(f"the method {value} is not GET or HEAD")
        request.method = "HEAD" if value.upper() == "HEAD" else "GET"


def _wget(args: list[str]) -> HttpCheck:
    request = _Request("wget", follow=True)
    output: list[str] = []
    spider = False
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            request.urls.extend(_url(a) for a in args[i:])
            break
        if arg.startswith("--"):
            name, equals, value = arg.partition("=")
            if name in _WGET_LONG_FLAGS and not equals:
                spider = spider or name == "--spider"
            elif name in _WGET_LONG_VALUES:
                if not equals:
                    if i >= len(args):
                        raise _No(f"{name} needs a value")
                    value, i = args[i], i + 1
                _wget_value(request, name, value, output)
            else:
                refused = next(
                    (why for prefix, why in _WGET_REFUSED.items() if name.startswith(prefix)),
                    None,
                )
                raise _No(refused or f"wget's {name} is not allowed here")
            continue
        if arg == "-nv":
            continue
        if arg.startswith("-") and len(arg) > 1:
            k = 1
            while k < len(arg):
                short = f"-{arg[k]}"
                k += 1
                if short in _WGET_FLAGS:
                    continue
                if short in _WGET_VALUES:
                    if k < len(arg):
                        value, k = arg[k:], len(arg)
                    elif i < len(args):
                        value, i = args[i], i + 1
                    else:
                        raise _No(f"{short} needs a value")
                    _wget_value(request, _WGET_VALUES[short], value, output)
                else:
                    why = _WGET_SHORT_REFUSED.get(short)
                    raise _No(why or f"wget's {short} is not allowed here")
            continue
        request.urls.append(_url(arg))
    if spider:
        request.method = "HEAD"
    elif not output:
        raise _No("wget writes a file (add -O- to print it)")
    if any(o not in ("-", "/dev/null") for o in output):
        raise _No("it writes a file (-O other than - or /dev/null)")
    return request.done()
