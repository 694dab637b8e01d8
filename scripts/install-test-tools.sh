#!/bin/sh
# The integration tests use the real promtool and amtool (Debian's prometheus and
# prometheus-alertmanager packages), the console's browser tests Debian's chromium, and the
# runbook runners' ssh tests a private sshd (openssh-server). Install them when missing and
# this machine can; otherwise say why, and the tests that need them skip with that reason.
set -u
missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v amtool >/dev/null 2>&1 || missing="$missing prometheus-alertmanager"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing="$missing openssh-server"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-tools: no apt-get here; tests needing$missing will skip"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-test-tools: not root and no passwordless sudo; tests needing$missing will skip"
        exit 0
    fi
else
    SUDO=""
fi
echo "install-test-tools: installing$missing from Debian's packages"
# Debian's packages try to start their daemons; policy-rc.d (exit 101) keeps them stopped.
$SUDO sh -c "apt-get update -qq >/dev/null && \
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null" || echo "install-test-tools: apt-get failed; tests needing$missing will skip"
exit 0
