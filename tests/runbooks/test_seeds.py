"""Golden tests over the five seed runbooks and the prometheus-operator corpus.

Every figure here was counted by hand from the seed documents: names, normalized severity,
number of steps, number of commands, and steps per phase (d=diagnose, r=remediate, v=verify,
p=prevent, e=escalate, o=other).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.runbooks.loader import load_catalog
from tocsin.runbooks.model import Catalog

# name: (severity, steps, commands, "d r v p e o")
Expected = dict[str, tuple[str | None, int, int, str]]
SEED_000: Expected = {
    "APIUnresponsive": ("critical", 19, 11, "8 3 0 4 4 0"),
    "HighErrorRate": ("critical", 17, 9, "6 3 0 4 4 0"),
    "SlowResponseTime": ("warning", 10, 6, "3 3 0 4 0 0"),
    "DatabaseDown": ("critical", 18, 10, "7 3 0 4 4 0"),
    "ConnectionPoolExhausted": ("warning", 10, 6, "3 3 0 4 0 0"),
    "HighCPUUsage": ("warning", 8, 5, "3 5 0 0 0 0"),
    "DiskSpaceCritical": ("critical", 6, 6, "4 2 0 0 0 0"),
    "BackupFailed": ("critical", 6, 6, "4 2 0 0 0 0"),
    "CeleryWorkersDown": ("critical", 5, 5, "3 2 0 0 0 0"),
    "HighFailedLoginAttempts": ("warning", 5, 5, "3 2 0 0 0 0"),
}
SEED_000_TOC_ONLY = {
    "DatabaseHighConnections",
    "SlowQueries",
    "HighMemoryUsage",
    "BackupSizeAnomaly",
    "BackupUploadFailed",
    "HighTaskQueueLength",
    "TaskFailureRateHigh",
    "SSLCertificateExpiring",
}
SEED_001: Expected = {
    "HighAPILatency": (None, 13, 6, "5 5 0 0 2 1"),
    "CriticalAPILatency": (None, 13, 6, "5 5 0 0 2 1"),
    "HighErrorRate": (None, 12, 5, "4 5 0 0 2 1"),
    "CriticalErrorRate": (None, 12, 5, "4 5 0 0 2 1"),
    "DatabaseConnectionPoolExhausted": (None, 8, 5, "3 3 0 0 2 0"),
    "RedisDisconnected": (None, 8, 5, "3 3 0 0 2 0"),
    "SignalIngestionStopped": (None, 10, 6, "4 4 0 0 2 0"),
    "PaymentWebhookFailures": (None, 9, 6, "4 3 0 0 2 0"),
    "EAPollErrors": (None, 10, 6, "4 4 0 0 2 0"),
    "HighApprovalRejectionRate": (None, 8, 2, "3 3 0 0 2 0"),
    "HighRateLimitRejections": (None, 7, 5, "3 3 0 0 1 0"),
}
SEED_002: Expected = {
    "TestWatcherDown": ("critical", 8, 2, "1 4 0 3 0 0"),
    "TestWatcherHighErrorRate": ("critical", 6, 1, "1 4 0 0 1 0"),
    "TestWatcherQueueBacklog": ("warning", 5, 1, "1 3 0 1 0 0"),
    "TestWatcherSlowTests": ("warning", 6, 1, "1 4 0 1 0 0"),
    "TestCoverageDrop": ("critical", 9, 2, "1 5 0 3 0 0"),
    "TestCoverageLow": ("warning", 6, 1, "1 4 0 0 0 1"),
    "DeepSeekAPIDown": ("critical", 7, 2, "1 5 0 0 1 0"),
    "PerplexityAPIDown": ("critical", 7, 2, "1 5 0 0 1 0"),
    "APIRateLimitExceeded": ("critical", 6, 2, "1 4 0 1 0 0"),
    "APIHighErrorRate": ("warning", 5, 1, "1 4 0 0 0 0"),
    "HighCPUUsage": ("critical", 6, 1, "1 4 0 1 0 0"),
    "MemoryLeakDetected": ("critical", 6, 1, "1 4 0 1 0 0"),
    "HighDiskUsage": ("warning", 5, 4, "1 4 0 0 0 0"),
}
SEED_003: Expected = {
    "CircuitBreakerOpen": ("warning", 6, 3, "3 2 0 1 0 0"),
    "HighErrorRate": ("critical", 5, 2, "3 1 0 0 0 1"),
    "TradingSessionFailure": ("critical", 5, 4, "2 1 2 0 0 0"),
    "PositionLimitExceeded": ("warning", 5, 2, "3 1 0 1 0 0"),
    "MaxDrawdownExceeded": ("critical", 6, 3, "2 1 1 1 0 1"),
    "AgentDown": ("warning", 5, 3, "3 1 1 0 0 0"),
    "AgentUnhealthy": ("warning", 5, 3, "3 1 1 0 0 0"),
    "AgentHighLatency": ("warning", 5, 3, "3 2 0 0 0 0"),
    "HighMemoryUsage": ("warning", 5, 4, "3 2 0 0 0 0"),
    "HighCPUUsage": ("warning", 5, 4, "3 2 0 0 0 0"),
    "DiskSpaceWarning": ("warning", 5, 5, "2 2 0 0 0 1"),
}
_TWO = "1 1 0 0 0 0"
SEED_004: Expected = {
    "InstanceDown": ("critical", 4, 1, "1 0 0 0 3 0"),
    "HighCPUUsage": ("high", 2, 2, _TWO),
    "HighMemoryUsage": ("high", 2, 2, _TWO),
    "DiskSpaceLow": ("high", 2, 2, _TWO),
    "NetworkLatencyHigh": ("warning", 4, 1, "1 3 0 0 0 0"),
    "PostgreSQLConnectionsExhausted": ("critical", 5, 2, "1 1 0 3 0 0"),
    "PostgreSQLReplicationLag": ("high", 2, 2, _TWO),
    "PostgreSQLDeadlocks": ("high", 2, 2, _TWO),
    "RedisMemoryFull": ("critical", 2, 2, _TWO),
    "RedisSentinelFailover": ("high", 2, 2, _TWO),
    "HighErrorRate": ("critical", 2, 2, _TWO),
    "APILatencyHigh": ("high", 2, 2, _TWO),
    "DebateTimeout": ("warning", 2, 2, _TWO),
    "AgentQuotaExceeded": ("warning", 2, 2, _TWO),
    "AuthFailuresSpike": ("high", 2, 2, _TWO),
    "RateLimitTriggered": ("warning", 2, 2, _TWO),
    "CertificateExpiringSoon": ("high", 2, 2, _TWO),
}
GOLDEN: dict[str, Expected] = {
    "000_4392ebbad4033ec5.txt": SEED_000,
    "001_b97053e40fa0b84a.txt": SEED_001,
    "002_8dcf69414be11204.txt": SEED_002,
    "003_54d55be18301f74b.txt": SEED_003,
    "004_a71f3dfa39d2be98.txt": SEED_004,
}


def _catalog(path: Path) -> Catalog:
    return load_catalog([path])


@pytest.mark.parametrize("seed", sorted(GOLDEN))
def test_seed_alerts_severities_steps_and_commands(seeds_dir: Path, seed: str) -> None:
    catalog = _catalog(seeds_dir / seed)
    [runbook] = catalog.runbooks
    got = {
        a.name: (
            a.severity,
            len(a.steps),
            len(a.commands()),
            " ".join(str(v) for v in a.phase_counts().values()),
        )
        for a in runbook.alerts
    }
    assert list(got) == list(GOLDEN[seed])  # same names, in document order
    assert got == GOLDEN[seed]


def test_seed_000_reports_the_eight_alerts_only_in_its_table_of_contents(seeds_dir: Path) -> None:
    catalog = _catalog(seeds_dir / "000_4392ebbad4033ec5.txt")
    toc = [p for p in catalog.problems if p.code == "toc-undocumented"]
    assert {p.alert for p in toc} == SEED_000_TOC_ONLY
    assert all(p.level == "error" and p.line for p in toc)
    assert len(catalog.runbooks[0].alerts) == 10


def test_seed_000_thresholds_and_escalation(seeds_dir: Path) -> None:
    runbook = _catalog(seeds_dir / "000_4392ebbad4033ec5.txt").runbooks[0]
    alerts = {a.name: a for a in runbook.alerts}
    assert (alerts["APIUnresponsive"].expr, alerts["APIUnresponsive"].for_s) == (
        'up{job="backend"} == 0',
        120,
    )
    assert (alerts["DatabaseDown"].expr, alerts["DatabaseDown"].for_s) == ("pg_up == 0", 60)
    assert alerts["CeleryWorkersDown"].expr == "celery_workers_total == 0"
    assert (alerts["HighErrorRate"].expr, alerts["HighErrorRate"].for_s) == (None, 300)
    assert alerts["HighErrorRate"].threshold == "> 5% error rate for 5 minutes"
    assert [(t.after_s, t.target) for t in runbook.escalation] == [
        (0, "Primary on-call"),
        (300, "Senior on-call"),
        (900, "Team leads"),
        (1800, "Incident commander"),
        (3600, "CTO/VP Engineering"),
    ]
    assert [(t.after_s, t.target) for t in alerts["DatabaseDown"].escalation] == [
        (0, "On-call engineer"),
        (300, "DBA"),
        (600, "Initiate DR procedure"),
        (1200, "platform lead"),
    ]
    assert runbook.metadata.last_updated_date == "2025-11-05"


def test_seed_severity_tables(seeds_dir: Path) -> None:
    levels = {
        seed: [
            (lv.name, lv.level, lv.response_time_s)
            for lv in _catalog(seeds_dir / seed).runbooks[0].severity_levels
        ]
        for seed in GOLDEN
    }
    assert levels["001_b97053e40fa0b84a.txt"] == [
        ("Critical", "critical", 300),
        ("Warning", "warning", 1800),
        ("Info", "info", None),
    ]
    assert levels["003_54d55be18301f74b.txt"] == [
        ("Critical", "critical", 900),
        ("Warning", "warning", 3600),
        ("Info", "info", None),
    ]
    assert levels["004_a71f3dfa39d2be98.txt"] == [
        ("P1 - Critical", "critical", 900),
        ("P2 - High", "high", 1800),
        ("P3 - Medium", "warning", 7200),
        ("P4 - Low", "info", 86400),
    ]
    seed2 = _catalog(seeds_dir / "002_8dcf69414be11204.txt").runbooks[0].severity_levels
    assert seed2[0].escalation_path == ["On-call", "Team Lead", "Manager"]


def test_seed_004_templates_channels_and_escalation(seeds_dir: Path) -> None:
    runbook = _catalog(seeds_dir / "004_a71f3dfa39d2be98.txt").runbooks[0]
    names = [t.name for t in runbook.templates]
    assert names == [
        "InstanceDown: Communication Template",
        "Initial Incident Report",
        "Status Update",
        "Resolution Report",
    ]
    assert runbook.templates[1].text.startswith("[INCIDENT] <Brief Description>")
    assert [(t.after_s, t.target) for t in runbook.escalation] == [
        (0, "Primary on-call"),
        (900, "secondary on-call"),
        (1800, "team lead"),
        (3600, "engineering manager"),
        (7200, "VP Engineering"),
    ]
    assert runbook.metadata.review_cycle_days == 31
    seed2 = _catalog(seeds_dir / "002_8dcf69414be11204.txt").runbooks[0]
    assert {(c.name, c.severity) for c in seed2.channels if c.kind == "slack"} >= {
        ("#alerts-critical", "critical"),
        ("#alerts-warning", "warning"),
        ("#alerts-info", "info"),
    }


def test_seed_commands_languages_and_risks(seeds_dir: Path) -> None:
    catalog = _catalog(seeds_dir)
    commands = [c for _rb, a in catalog.alerts() for c in a.commands()]
    languages = {c.language for c in commands}
    assert {"bash", "powershell", "sql", "python"} <= languages
    by_alert = {(rb.source.rsplit("/", 1)[-1][:3], a.name): a for rb, a in catalog.alerts()}
    disk = by_alert[("002", "HighDiskUsage")]
    assert [c.risk for c in disk.commands() if c.inline][:2] == ["destructive", "destructive"]
    login = by_alert[("000", "HighFailedLoginAttempts")]
    assert login.commands()[2].risk == "destructive"
    assert login.commands()[2].placeholders == ["<suspicious_ip>"]
    redis = by_alert[("004", "RedisMemoryFull")]
    assert redis.commands()[0].placeholders == ["${REDIS_PASSWORD}"]
    assert redis.commands()[0].risk == "read"
    assert redis.commands()[1].risk == "destructive"


def test_seeds_lint(seeds_dir: Path) -> None:
    catalog = _catalog(seeds_dir)
    codes = {(p.code, p.alert) for p in catalog.problems}
    assert ("conflicting-severity", "HighCPUUsage") in codes  # warning, critical, high
    assert ("conflicting-severity", "HighMemoryUsage") in codes  # warning vs high
    assert ("conflicting-severity", "HighErrorRate") not in codes  # critical everywhere
    assert ("missing-severity", "RedisDisconnected") in codes
    overdue = {
        p.source.rsplit("/", 1)[-1][:3] for p in catalog.problems if p.code == "review-overdue"
    }
    assert overdue == {"001", "004"}  # the two that state a review cycle
    broken = [p for p in catalog.problems if p.code == "broken-link"]
    assert {p.source.rsplit("/", 1)[-1][:3] for p in broken} == {"003"}
    assert catalog.has_errors


def test_corpus_one_alert_per_file(corpus_dir: Path) -> None:
    catalog = _catalog(corpus_dir)
    files = [p for p in corpus_dir.rglob("*.md") if p.name != "_index.md"]
    assert len(files) == 108
    by_source = {rb.source: [a.name for a in rb.alerts] for rb in catalog.runbooks}
    for path in files:
        assert len(by_source[str(path)]) == 1, path
    names = {a.name for _rb, a in catalog.alerts()}
    assert {
        "KubePodCrashLooping",
        "Watchdog",
        "CPUThrottlingHigh",
        "etcdNoLeader",
        "KubeAPIErrorBudgetBurn",
    } <= names
    assert not any(p.level == "error" for p in catalog.problems)
    mismatch = [p for p in catalog.problems if p.code == "name-mismatch"]
    assert [p.alert for p in mismatch] == ["PrometheusRemoteStorageFailures"]


def test_corpus_sections(corpus_dir: Path) -> None:
    catalog = _catalog(corpus_dir)
    alerts = {a.name: a for _rb, a in catalog.alerts()}
    crash = alerts["KubePodCrashLooping"]
    assert crash.meaning and crash.impact
    # 4 checks, then "Other things to check:" heading 8 more
    assert crash.phase_counts()["diagnose"] == 12 and crash.phase_counts()["remediate"] == 1
    assert crash.commands()[0].placeholders == ["$NAMESPACE", "$POD"]
    burn = alerts["KubeAPIErrorBudgetBurn"]
    assert [v.severity for v in burn.severity_variants] == ["critical", "warning"]
    assert {c.language for c in burn.commands()} == {"promql"}
    assert all(c.risk == "read" for c in burn.commands())
