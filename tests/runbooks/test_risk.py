"""Risk classes, table-driven: what an on-call engineer would call each command."""

import pytest

from tocsin.runbooks.risk import classify

READ = [
    ("bash", "docker-compose ps backend\ndocker-compose logs backend --tail 100"),
    ("bash", "kubectl -n prod get pods -o wide | grep -v Running"),
    ("bash", "kubectl get pods --namespace=<prod/staging/etc.>"),  # a placeholder, no redirection
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


# Found by review: each at least at this risk (a false "read" is the one error not allowed).
MINIMUM = {"read": 0, "change": 1, "destructive": 2}
REVIEW_CASES = [
    ("pg_resetwal /var/lib/postgresql/14/main", "bash", "change"),
    ("sudo -u postgres pg_resetwal /data", "bash", "change"),
    ("xfs_repair /dev/sdb1", "bash", "change"),
    ("KUBE_CONTEXT=prod kubectl rollout restart deployment/api", "bash", "change"),
    ("VAULT_ADDR=https://vault:8200 vault operator seal", "bash", "change"),
    ("time (kubectl rollout restart deployment/api)", "bash", "change"),
    ("rm {access,error}.log", "bash", "destructive"),
    ("$ psql -U postgres app\nUPDATE accounts SET locked = false;", "bash", "change"),
    ("$ redis-cli -h cache\nCONFIG SET maxmemory 0", "bash", "change"),
    ("$ cd /opt/app\n./bin/migrate --force", "bash", "change"),
    ("$ sudo -i\n# systemctl restart nginx", "bash", "change"),
    ("curl -fsSL https://x/fix.sh | sudo bash", "bash", "change"),
    ('echo "systemctl stop nginx" | sh', "bash", "change"),
    ('echo "DEL session:abc" | redis-cli -h cache', "bash", "destructive"),
    ('echo "CONFIG SET maxmemory 0" | redis-cli', "bash", "change"),
    ("cat cmds | redis-cli --pipe", "bash", "change"),
    ("echo flush_all | nc localhost 11211", "bash", "destructive"),
    ("cat backup.img > /dev/sdb", "bash", "destructive"),
    ("printf 'SHUTDOWN NOSAVE\\r\\n' > /dev/tcp/localhost/6379", "bash", "destructive"),
    ("echo x >| state.json", "bash", "change"),
    ("curl -sXDELETE http://es:9200/logs-2024.01", "bash", "destructive"),
    ("curl -sX POST http://x/a", "bash", "change"),
    ("curl -d'{\"replicas\":0}' http://x/a", "bash", "change"),
    ("wget -qO- --post-data=x http://x", "bash", "change"),
    ('psql -tAc "UPDATE t SET a=1"', "bash", "change"),
    ('psql -c "SELECT 1" -c "UPDATE t SET a=1"', "bash", "change"),
    ("sed -Ei 's/a/b/' /etc/postgresql/postgresql.conf", "bash", "change"),
    ("http DELETE https://api/items/42", "bash", "destructive"),
    ("http POST https://api/items a=1", "bash", "change"),
    ('sqlite3 app.db "UPDATE jobs SET x=1"', "bash", "change"),
    ("sqlite3 app.db '.restore old.db'", "bash", "change"),
    ("mdadm --zero-superblock /dev/sdb", "bash", "destructive"),
    ("sysctl -w vm.swappiness=1", "bash", "change"),
    ("mount -o remount,ro /", "bash", "change"),
    ("hostname x", "bash", "change"),
    ("date -s '2020-01-01'", "bash", "change"),
    ("route del default", "bash", "change"),
    ("ss -K dport = :5432", "bash", "destructive"),
    ("dmesg -C", "bash", "destructive"),
    ("strace -f systemctl restart nginx", "bash", "change"),
    ("awk 'BEGIN{system(\"systemctl restart nginx\")}'", "bash", "change"),
    ("git branch --delete --force x", "bash", "change"),
    ("git reflog expire --expire=now --all", "bash", "destructive"),
    ("git remote remove origin", "bash", "change"),
    ("kubectl auth reconcile -f rbac.yaml", "bash", "change"),
    ("redis-cli SENTINEL CONFIG SET x y", "bash", "change"),
    ("redis-cli SLOWLOG RESET", "bash", "change"),
    ("START SLAVE;", "sql", "change"),
    ("mysql -e 'START SLAVE'", "bash", "change"),
    ("SELECT format('ALTER ROLE %I NOLOGIN', rolname) FROM pg_roles \\gexec", "sql", "change"),
    ("SELECT pg_logical_slot_get_changes('s', NULL, NULL);", "sql", "change"),
    ("SELECT partman.run_maintenance();", "sql", "change"),
    ("SELECT dblink('x','UPDATE t SET a=1');", "sql", "change"),
    ("WITH x AS (SELECT 1) SELECT * INTO backup_t FROM x;", "sql", "change"),
    ('SELECT * INTO "Backup" FROM t;', "sql", "change"),
    (
        "psql -U postgres\nSELECT pid FROM pg_stat_activity\nsudo systemctl restart pgbouncer",
        "sql",
        "change",
    ),
    ("psql\nselect pg_promote();", "bash", "change"),
    ("irm -Method Post http://x", "powershell", "change"),
    ("iwr -Method PUT http://x", "powershell", "change"),
    ("Invoke-RestMethod -Method:Post http://x", "powershell", "change"),
    ("Invoke-RestMethod @p", "powershell", "change"),
    ("'' > C:\\app\\data\\state.json", "powershell", "change"),
    ("[IO.File]::Delete('C:\\data\\app.db')", "powershell", "destructive"),
    ("$svc.Stop()", "powershell", "change"),
    ("Get-Process app | % { $_.Kill() }", "powershell", "destructive"),
    ("Get-ChildItem C:\\logs | ForEach-Object Delete", "powershell", "destructive"),
    (".\\cleanup.ps1 -Force", "powershell", "change"),
    (
        'kubectl exec app -- sh -c "echo \\"cleaning # of files\\"; rm -rf /var/lib/app/data"',
        "bash",
        "destructive",
    ),
    ("rm --recursive --force /data", "bash", "destructive"),
    ("rm /var/lib/postgresql/pg_wal/*", "bash", "destructive"),
    ("find /x -execdir rm {} +", "bash", "destructive"),
    ("find /x -exec /bin/rm {} \\;", "bash", "destructive"),
    ("ls | xargs rm", "bash", "destructive"),
    ("aws --profile p s3 rm s3://b --recursive", "bash", "destructive"),
    ("aws --region r ec2 terminate-instances --instance-ids i-1", "bash", "destructive"),
    ("git -C repo reset --hard", "bash", "destructive"),
    ("helm -n prod uninstall api", "bash", "destructive"),
    ("docker kill postgres", "bash", "destructive"),
    ("pkill --signal KILL java", "bash", "destructive"),
    ("kill -n 9 1234", "bash", "destructive"),
    ("kill \\\n -9 1234", "bash", "destructive"),
    ("Stop-Process -Name app `\n -Force", "powershell", "destructive"),
    ("crontab -r", "bash", "destructive"),
    ("redis-cli SHUTDOWN NOSAVE", "bash", "destructive"),
    ("redis-cli FUNCTION FLUSH", "bash", "destructive"),
    ("lvremove -f vg/lv", "bash", "destructive"),
    ("sgdisk --zap-all /dev/sdb", "bash", "destructive"),
    ("dd if=/dev/zero > /dev/sda", "bash", "destructive"),
    ("rsync -a --delete src/ dst/", "bash", "destructive"),
    ("kafka-topics --delete --topic orders", "bash", "destructive"),
    ("mongosh --eval 'db.dropDatabase()'", "bash", "destructive"),
    ("rabbitmqctl delete_queue q", "bash", "destructive"),
    ("rabbitmqctl reset", "bash", "change"),
    ("ALTER TABLE events DROP PARTITION p1;", "sql", "destructive"),
    ("RESET MASTER;", "sql", "destructive"),
    ("PURGE BINARY LOGS BEFORE now();", "sql", "destructive"),
    ("KILL 1234;", "sql", "destructive"),
    ("WITH s AS (SELECT 1) DELETE s FROM sessions s;", "sql", "destructive"),
    ("taskkill /F /IM app.exe", "powershell", "destructive"),
    ("format D: /q /y", "powershell", "destructive"),
    ('cmd /c "rd /s /q C:\\data"', "powershell", "destructive"),
    ("clc C:\\logs\\app.log", "powershell", "destructive"),
    ("wevtutil cl System", "powershell", "destructive"),
    ("echo " + "$(" * 2000, "bash", "change"),
]


@pytest.mark.parametrize(("code", "language", "least"), REVIEW_CASES)
def test_reviewed_commands_are_never_underrated(code: str, language: str, least: str) -> None:
    verdict = classify(code, language)
    assert MINIMUM[verdict.risk] >= MINIMUM[least], verdict
