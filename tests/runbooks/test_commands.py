import pytest

from tocsin.runbooks.commands import (
    find_placeholders,
    guess_language,
    normalize_language,
    placeholder_key,
    strip_prompts,
)


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("Get-Process | Sort-Object CPU", "powershell"),
        ("SELECT 1;", "sql"),
        ("-- comment\nSELECT * FROM t", "sql"),
        ("rate(http_requests_total[5m])", "promql"),
        ("histogram_quantile(0.95, rate(x_bucket[5m]))", "promql"),
        ("import os\nprint(os.getcwd())", "python"),
        ("groups:\n  - name: x\n    rules: []", "yaml"),
        ("docker ps\nkubectl get pods", "bash"),
        ("", "bash"),
    ],
)
def test_guess_language(code: str, language: str) -> None:
    assert guess_language(code) == language


def test_normalize_language() -> None:
    assert normalize_language("sh") == "bash"
    assert normalize_language("PowerShell") == "powershell"
    assert normalize_language("yml") == "yaml"
    assert normalize_language("text") == ""
    assert normalize_language("") == ""
    assert normalize_language("hcl") == "hcl"


def test_strip_prompts_drops_output_lines() -> None:
    code = "$ kubectl get pods\nNAME   READY\napi-0  1/1\n$ kubectl logs api-0 \\\n  --tail=5"
    assert strip_prompts(code) == "kubectl get pods\nkubectl logs api-0 \\\n  --tail=5"
    assert strip_prompts("docker ps\n") == "docker ps"


@pytest.mark.parametrize(
    ("code", "language", "expected"),
    [
        ("iptables -A INPUT -s <suspicious_ip> -j DROP", "bash", ["<suspicious_ip>"]),
        ("docker exec backend kill -9 <PID>", "bash", ["<PID>"]),
        ("kubectl -n $NAMESPACE logs $POD", "bash", ["$NAMESPACE", "$POD"]),
        ('redis-cli -a "${REDIS_PASSWORD}" ping', "bash", ["${REDIS_PASSWORD}"]),
        ("kubectl describe pod {{ $labels.pod }}", "bash", ["{{ $labels.pod }}"]),
        ("docker inspect x --format='{{.State.ExitCode}}'", "bash", []),
        ("awk '{print $NF}' file", "bash", []),
        ('URL="http://x"\ncurl "$URL/health"', "bash", []),
        ("for s in a b; do echo $s; done", "bash", []),
        ("cat $HOME/.profile", "bash", []),
        ("Remove-Item $env:TEMP\\* -Recurse", "powershell", []),
        ("$size = 1; Write-Host $size $_", "powershell", []),
        ("ls 2>/dev/null > out.txt", "bash", []),
    ],
)
def test_find_placeholders(code: str, language: str, expected: list[str]) -> None:
    assert find_placeholders(code, language) == expected


def test_placeholder_key() -> None:
    assert placeholder_key("<pod-name>") == "pod"
    assert placeholder_key("${NAMESPACE}") == "namespace"
    assert placeholder_key("{{ $labels.instance }}") == "instance"
    assert placeholder_key("<PID>") == "pid"
