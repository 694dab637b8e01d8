"""Risk classes, table-driven: what an on-call engineer would call each command."""

import pytest

from tocsin.runbooks.risk import classify

READ = [
    ("bash", "docker-compose ps backend\ndocker-compose logs backend --tail 100"),
    ("bash", "kubectl -n prod get pods -o wide | grep -v Running"),
    ("bash", 'kubectl exec -it -n ns deploy/postgres -- psql -U postgres -c "SELECT 1;"'),
    ("bash", "docker exec backend ps aux --sort=-%mem | head -10"),
    ("bash", "curl -s 'http://localhost:9090/api/v1/query?query=up' | jq"),
    ("bash", 'redis-cli -a "${REDIS_PASSWORD}" INFO memory'),
    ("bash", "redis-cli -p 26379 sentinel get-master-addr-by-name main"),
    ("bash", "journalctl -u app --since '1 hour ago'"),
    ("bash", "echo | openssl s_client -connect a.example:443 2>/dev/null | openssl x509 -noout"),
    ("bash", "for s in a b; do\n  curl http://${s}:9/health\ndone"),
    ("bash", "$ kubectl get nodes\nNAME STATUS\nnode1 Ready"),
    ("bash", 'rate(http_requests_total{status=~"5.."}[5m])'),
    ("bash", "# only a comment"),
    ("bash", "aws s3 ls s3://bucket/ --profile backup"),
    ("bash", "git log -1 --oneline"),
    ("bash", "systemctl status nginx"),
    ("bash", "find /var/log -name '*.log' -mtime +7"),
    ("bash", "docker exec -it postgres psql -U postgres -d app\nSELECT count(*) FROM t;"),
    ("sql", "SELECT pid, query FROM pg_stat_activity WHERE state = 'active';"),
    ("sql", "-- check\nWITH x AS (SELECT 1) SELECT * FROM x;"),
    ("promql", "sum(rate(errors_total[5m])) by (route)"),
    ("powershell", "Get-Process | Sort-Object CPU -Descending | Select-Object -First 10"),
    ("powershell", "Get-Process python | Select-Object Name,@{Name='Mem';Expression={$_.WS/1MB}}"),
    ("powershell", 'curl "http://localhost:9090/api/v1/query?query=x" | ConvertFrom-Json'),
]

CHANGE = [
    ("bash", "docker-compose restart backend"),
    ("bash", "kubectl scale deployment backend --replicas=5"),
    ("bash", "kubectl rollout undo deployment/backend"),
    ("bash", "kubectl patch pvc data -p '{\"spec\":{}}'"),
    ("bash", "curl -X POST http://localhost:8080/api/v1/admin/cache/clear"),
    ("bash", "curl http://localhost/api -d '{\"a\":1}'"),
    ("bash", "systemctl restart postgresql"),
    ("bash", "sed -i 's/a/b/' /etc/app.conf"),
    ("bash", "kill 1234"),
    ("bash", "pg_dump -U postgres app > /tmp/backup.sql"),
    ("bash", "python backend/scripts/recover.py"),
    ("bash", "some-tool-nobody-knows --flag"),
    ("bash", 'docker-compose exec postgres psql -c "ALTER SYSTEM SET x = 1;"'),
    ("bash", "amtool silence add alertname=X --duration=1h --comment=c"),
    ("sql", "CREATE INDEX CONCURRENTLY idx ON t(c);"),
    ("sql", "SELECT pg_cancel_backend(123);"),
    ("sql", "UPDATE users SET active = false WHERE id = 1;"),
    ("python", "RATE_LIMIT = '5 per minute'"),
    ("yaml", "redis:\n  command: redis-server --maxmemory 2gb"),
    ("powershell", "Restart-Service -Name app"),
    ("powershell", "pytest --durations=10 tests/"),
]

DESTRUCTIVE = [
    ("bash", "rm -rf /var/lib/postgresql/15/main/*"),
    ("bash", "sudo rm -rf /data"),
    ("bash", "docker system prune -a --volumes"),
    ("bash", "docker compose down -v"),
    ("bash", "docker-compose exec redis redis-cli FLUSHDB"),
    ("bash", "redis-cli --scan --pattern 's:*' | xargs -L 100 redis-cli DEL"),
    ("bash", "docker exec backend kill -9 <PID>"),
    ("bash", "truncate -s 0 /var/log/postgresql/*.log"),
    ("bash", "find /backups -type f -mtime +30 -delete"),
    ("bash", "iptables -A INPUT -s <suspicious_ip> -j DROP"),
    ("bash", "ufw deny from 192.168.1.100"),
    ("bash", 'kubectl exec -it pod -- sh -c "rm -rf /tmp/cache"'),
    ("bash", "psql -c \"DELETE FROM sessions WHERE created_at < now() - interval '1 day'\""),
    ("bash", "kubectl delete pod api-0"),
    ("bash", "curl -X DELETE http://localhost:8080/api/v1/items/1"),
    ("bash", "git reset --hard origin/main"),
    ("bash", "journalctl --vacuum-size=500M"),
    ("sql", "DROP TABLE old_events;"),
    ("sql", "TRUNCATE audit_log;"),
    ("sql", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle';"),
    ("powershell", "Remove-Item $env:TEMP\\* -Recurse -Force"),
    ("powershell", "Get-ChildItem C:\\logs | Remove-Item"),
    ("bash", "DEL key_name"),
]


@pytest.mark.parametrize(("language", "code"), READ)
def test_read_only_commands(language: str, code: str) -> None:
    verdict = classify(code, language)
    assert verdict.risk == "read", verdict


@pytest.mark.parametrize(("language", "code"), CHANGE)
def test_commands_that_change_state(language: str, code: str) -> None:
    verdict = classify(code, language)
    assert verdict.risk == "change", verdict


@pytest.mark.parametrize(("language", "code"), DESTRUCTIVE)
def test_destructive_commands(language: str, code: str) -> None:
    verdict = classify(code, language)
    assert verdict.risk == "destructive", verdict


def test_block_takes_its_highest_risk() -> None:
    code = "docker ps\ndocker-compose restart api\nrm -rf /tmp/x"
    assert classify(code, "bash").risk == "destructive"
    assert classify("docker ps\ndocker-compose restart api", "bash").risk == "change"


def test_unknown_is_never_read() -> None:
    for code, language in [("frobnicate now", "bash"), ("x := 1", "go"), ("{}", "json")]:
        assert classify(code, language).risk != "read"


def test_destructive_words_in_comments_do_not_count() -> None:
    code = "redis-cli INFO  # never run FLUSHDB here\n-- or DROP TABLE"
    assert classify("redis-cli INFO  # never run FLUSHDB here", "bash").risk == "read"
    assert classify("SELECT 1; -- never DROP TABLE t", "sql").risk == "read"
    assert code  # the same text unstripped would be destructive
