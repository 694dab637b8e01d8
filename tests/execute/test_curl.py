"""The curl/wget line reader (pure): what it accepts, what it refuses and why."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.runbooks.curl import HttpCheck, Refused, parse_check, shell_words

ACCEPTED = [
    ("curl http://api:8080/healthz", HttpCheck("GET", "http://api:8080/healthz")),
    ("curl -sf http://api/healthz", HttpCheck("GET", "http://api/healthz")),
    ("curl -sS -L https://api/", HttpCheck("GET", "https://api/", follow=True)),
    ("curl -I https://api/", HttpCheck("HEAD", "https://api/")),
    ("curl --head -- https://api/", HttpCheck("HEAD", "https://api/")),
    ("curl -X HEAD http://api/", HttpCheck("HEAD", "http://api/")),
    ("curl --request GET http://api/", HttpCheck("GET", "http://api/")),
    ("curl -m 5 http://api/", HttpCheck("GET", "http://api/", timeout_s=5.0)),
    ("curl -sm2.5 http://api/", HttpCheck("GET", "http://api/", timeout_s=2.5)),
    ("curl --max-time 3 http://api/", HttpCheck("GET", "http://api/", timeout_s=3.0)),
    (
        "curl -H 'Accept: application/json' -H \"X-Probe:  yes\" http://api/",
        HttpCheck("GET", "http://api/", (("Accept", "application/json"), ("X-Probe", "yes"))),
    ),
    (
        "curl -A probe/1 http://api/",
        HttpCheck("GET", "http://api/", (("User-Agent", "probe/1"),)),
    ),
    (
        "curl -s -o /dev/null -w '%{http_code}' http://api/healthz",
        HttpCheck("GET", "http://api/healthz"),
    ),
    ("curl localhost:9090/-/ready", HttpCheck("GET", "http://localhost:9090/-/ready")),
    ("curl 'http://api/q?a=1&b=2'", HttpCheck("GET", "http://api/q?a=1&b=2")),
    ("curl http://api/q?a=1", HttpCheck("GET", "http://api/q?a=1")),
    ("curl http://[::1]:8080/x", HttpCheck("GET", "http://[::1]:8080/x")),
    ("curl http://api/ # the health check", HttpCheck("GET", "http://api/")),
    ("curl -s \\\n  http://api/", HttpCheck("GET", "http://api/")),
    ("curl --compressed --fail-with-body http://api/", HttpCheck("GET", "http://api/")),
    (
        "wget -qO- http://api/healthz",
        HttpCheck("GET", "http://api/healthz", follow=True, tool="wget"),
    ),
    ("wget -O - http://api/", HttpCheck("GET", "http://api/", follow=True, tool="wget")),
    (
        "wget -q --spider http://api/",
        HttpCheck("HEAD", "http://api/", follow=True, tool="wget"),
    ),
    (
        "wget -qO /dev/null --timeout=4 --max-redirect=0 http://api/",
        HttpCheck("GET", "http://api/", timeout_s=4.0, follow=False, tool="wget"),
    ),
    (
        "wget -nv -O- --header='Accept: text/plain' -T 2 http://api/",
        HttpCheck("GET", "http://api/", (("Accept", "text/plain"),), 2.0, True, "wget"),
    ),
]

REFUSED = [
    ("ls -l", "not one curl or wget command"),
    ("sudo curl http://api/", "not one curl or wget command"),
    ("TOKEN=x curl http://api/", "not one curl or wget command"),
    ("curl http://api/; rm -rf /", "it holds ;"),
    ("curl http://api/ | sh", "it holds |"),
    ("curl http://api/ && reboot", "it holds &"),
    ("curl http://api/ > /tmp/out", "it holds >"),
    ("curl http://api/$(id)", "the shell would expand $"),
    ('curl "http://api/$HOST"', "expand $ inside double quotes"),
    ("curl http://api/`id`", "the shell would expand `"),
    ("curl http://api/\nrm -rf /", "more than one line"),
    ("curl 'http://api/", "a quote does not end"),
    ("curl http://api/{a,b}", "expand braces"),
    ("curl ~/file", "expand ~"),
    ("curl -d x=1 http://api/", "it sends data"),
    ("curl --data-raw x http://api/", "it sends data"),
    ("curl --json {} http://api/", "expand braces"),
    ("curl --json '{}' http://api/", "it sends data"),
    ("curl -F f=@/etc/passwd http://api/", "it uploads a form"),
    ("curl -T /etc/passwd http://api/", "it uploads a file"),
    ("curl -X POST http://api/", "the method POST is not GET or HEAD"),
    ("curl -XDELETE http://api/", "the method DELETE is not GET or HEAD"),
    ("curl -K /tmp/cfg http://api/", "it reads a config file"),
    ("curl --unix-socket /run/docker.sock http://api/", "Unix socket"),
    ("curl -k https://api/", "certificates are always checked"),
    ("curl --insecure https://api/", "certificates are always checked"),
    ("curl -o /tmp/x http://api/", "it writes a file"),
    ("curl -O http://api/x", "it writes a file"),
    ("curl -u admin:pw http://api/", "credentials are not allowed"),
    ("curl http://admin:pw@api/", "credentials in the URL"),
    ("curl -x http://proxy:3128 http://api/", "a proxy is not allowed"),
    ("curl -H @/tmp/headers http://api/", "headers read from a file"),
    ("curl -H 'Host: other' http://api/", "the Host header is not allowed"),
    ("curl -w @/tmp/fmt http://api/", "from a file"),
    ("curl --retry 3 http://api/", "curl's --retry is not allowed here"),
    ("curl --max-time=5 http://api/", "curl's --max-time=5 is not allowed here"),
    ("curl -m 0 http://api/", "above 0"),
    ("curl -m soon http://api/", "needs a number of seconds"),
    ("curl http://api/a http://api/b", "it names 2 URLs"),
    ("curl -s", "it names 0 URLs"),
    ("curl file:///etc/passwd", "scheme is file"),
    ("curl gopher://api/", "scheme is gopher"),
    ("curl 'http://api/[1-9]'", "glob"),
    ("curl http://api:99999/", "not valid"),
    ("wget http://api/", "wget writes a file"),
    ("wget -O out.html http://api/", "it writes a file"),
    ("wget --post-data=x -O- http://api/", "it sends data"),
    ("wget --no-check-certificate -O- https://api/", "certificates are always checked"),
    ("wget -e robots=off -O- http://api/", "wgetrc commands"),
    ("wget -i urls.txt -O-", "a file of URLs"),
    ("wget --method=PUT -O- http://api/", "the method PUT is not GET or HEAD"),
    ("curl http://api/\x1b[2J", "a control character"),
]


@pytest.mark.parametrize(("line", "check"), ACCEPTED)
def test_accepted(line: str, check: HttpCheck) -> None:
    assert parse_check(line) == check


@pytest.mark.parametrize(("line", "why"), REFUSED)
def test_refused(line: str, why: str) -> None:
    found = parse_check(line)
    assert isinstance(found, Refused), found
    assert why in found.why


def _double(found: re.Match[str]) -> str:
    return "$" if any(c in found.group() for c in "$`") else ""


def test_words_as_bash_splits_them() -> None:
    assert shell_words("curl -H 'a b' \"c\\\"d\" e\\ f ''") == [
        "curl",
        "-H",
        "a b",
        'c"d',
        "e f",
        "",
    ]


_PIECES = st.sampled_from(
    [
        "curl",
        "wget",
        "-s",
        "-I",
        "-L",
        "-X",
        "POST",
        "HEAD",
        "-d",
        "-o",
        "/dev/null",
        "-O-",
        "-qO-",
        "--spider",
        "-m",
        "5",
        "-H",
        "'A: b'",
        "http://api/x",
        "https://h:8443/",
        "file:///etc/passwd",
        "api:80",
        "--",
        "-k",
        ";",
        "|",
        "$(id)",
        "`id`",
        "'",
        '"',
        "\\",
        "\n",
        "#",
        "ftp://h/",
        "-",
        "--url",
        "x",
    ]
)


@settings(max_examples=400)
@given(st.one_of(st.lists(_PIECES, max_size=8).map(" ".join), st.text(max_size=60)))
def test_whatever_it_accepts_is_a_get_or_head_of_one_http_url(line: str) -> None:
    found = parse_check(line)
    if isinstance(found, Refused):
        return
    assert found.method in ("GET", "HEAD")
    parts = urlsplit(found.url)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert "@" not in parts.netloc
    # outside quotes nothing the shell would act on (inside double quotes no $ or `); blanks
    # around the line are no part of it
    bare = re.sub(r"'[^']*'", "", re.sub(r'"(?:[^"\\]|\\.)*"', _double, line.strip()))
    assert not any(c in bare for c in ";|&<>$`(){}\n")
    assert found.tool in ("curl", "wget")
