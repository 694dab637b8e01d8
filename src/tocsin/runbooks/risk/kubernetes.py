"""Readers of the Kubernetes tools: kubectl (and oc, OpenShift's kubectl) and helm.
``kubectl exec … -- CMD`` runs a command in a pod: that command is read by the shell's reader,
which the caller passes in as ``inner``.
"""

from __future__ import annotations

from tocsin.runbooks.risk.verdict import Reader, Verdict, change, destroy, read
from tocsin.runbooks.risk.words import after_double_dash, strip_options

_KUBECTL_READ = frozenset(
    """
    get describe logs top explain api-resources api-versions cluster-info version events
    diff wait port-forward proxy auth can-i
    """.split()
)
_KUBECTL_OPTS_WITH_VALUE = frozenset(
    """
    -n --namespace --context --kubeconfig -l --selector -o --output -c --container --tail
    --since --sort-by -f --filename --cluster --user -p --field-selector --type
    """.split()
)
_HELM_READ = frozenset("list ls status get history show template search version lint".split())


def kubectl(args: list[str], inner: Reader) -> Verdict:
    pos = strip_options(args, _KUBECTL_OPTS_WITH_VALUE)
    if not pos:
        return read("kubectl help")
    sub = pos[0]
    if sub == "exec":
        command = after_double_dash(args)
        return inner(command) if command else read("kubectl exec opens a session")
    if sub == "auth":
        if len(pos) > 1 and pos[1] in ("can-i", "whoami"):
            return read("kubectl auth can-i")
        return change("kubectl auth changes RBAC")
    if sub in _KUBECTL_READ:
        return read(f"kubectl {sub} observes")
    if sub == "rollout" and len(pos) > 1 and pos[1] in ("status", "history"):
        return read(f"kubectl rollout {pos[1]} observes")
    if sub == "config" and len(pos) > 1 and pos[1] in ("view", "get-contexts", "current-context"):
        return read("kubectl config view")
    return change(f"kubectl {sub} changes the cluster")


def helm(args: list[str]) -> Verdict:
    pos = strip_options(args, {"-n", "--namespace", "--kube-context", "-o", "--output"})
    if pos and pos[0] in ("uninstall", "delete", "del", "un"):
        return destroy("helm uninstall")
    if pos and pos[0] in _HELM_READ:
        return read(f"helm {pos[0]} observes")
    return change("helm changes releases")
