"""The house rules of src/tocsin, read from its imports (docs/architecture.md): no import
circles; arrows run down the layers, never up; the pure packages import no I/O; no front door
calls another; and no HTTP status leaks below the front doors."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "tocsin"

# Each module may import its own layer and the layers before it, never one after it.
LAYERS: list[tuple[str, ...]] = [
    # the vocabulary every layer uses
    ("errors", "clock", "times", "metrics", "ratelimit", "words", "logs", "periodic", "heap"),
    ("alerts", "routing", "oncall", "incidents", "runbooks", "templating"),  # pure rules
    ("config",),  # tocsin.yaml -> the rules' values
    ("store",),  # the database
    ("notify", "execute"),  # channels: the network, processes (runbook commands that run)
    ("engine",),  # the due-work cycle
    ("intake",),  # the durable intake writer
    ("service",),  # every use case once
    ("api", "web", "simulate"),  # the HTTP front doors; the simulator over the engine
    ("serve",),  # the server program: uvicorn, workers, the writer process, the API
    ("cli", "__main__"),  # the command: a front door, and what starts serve and simulate
]
PURE = ("alerts", "routing", "oncall", "incidents", "runbooks", "templating", "times", "errors")
IO_LIBRARIES = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "aiohttp",
    "httpx",
    "aiosmtplib",
    "typer",
    "subprocess",
    "socket",
    "asyncio",
)
FRONT_DOORS = ("api", "cli", "web")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module named by an import in the file, at any depth (a function's lazy import
    is as much a dependency as one at the top)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {
        name: {dep for dep in _imports(path) if dep in files and dep != name}
        for name, path in files.items()
    }


GRAPH = _graph()


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module: str) -> int:
    top = _top(module)
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module}: its package is in no layer (add it to LAYERS)")


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert _circles(GRAPH) == []


def test_imports_run_down_the_layers() -> None:
    upward = [
        f"{name} -> {dep}"
        for name, deps in sorted(GRAPH.items())
        if name != "tocsin"
        for dep in sorted(deps)
        if dep != "tocsin" and _layer(dep) > _layer(name)
    ]
    assert upward == []


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_no_io(package: str) -> None:
    paths = [ROOT / f"{package}.py"] if (ROOT / f"{package}.py").exists() else []
    paths += sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []
    assert paths, f"no module for {package}"
    found = [
        f"{path.relative_to(SRC)}: {dep}"
        for path in paths
        for dep in _imports(path)
        if dep.split(".")[0] in IO_LIBRARIES
        or (dep.startswith("tocsin.") and _layer(dep) > _layer(f"tocsin.{package}"))
    ]
    assert found == []


def test_no_front_door_calls_another() -> None:
    crossing = [
        f"{name} -> {dep}"
        for name, deps in sorted(GRAPH.items())
        if _top(name) in FRONT_DOORS
        for dep in sorted(deps)
        if _top(dep) in FRONT_DOORS and _top(dep) != _top(name)
    ]
    assert crossing == []


# An HTTP status below the front doors: a web framework, a response, or a 4xx/5xx number
# passed as a status (``Refused(404, ...)``, ``status=409``).
_STATUS = re.compile(
    r"\b(fastapi|starlette|HTTPException|JSONResponse|status_code)\b"
    r"|\(\s*[45]\d\d\s*,|\bstatus\s*=\s*[45]\d\d\b"
)


@pytest.mark.parametrize("package", ["engine", "service"])
def test_no_http_status_below_the_front_doors(package: str) -> None:
    paths = sorted((ROOT / package).rglob("*.py"))
    assert paths, f"no module in {package}/"
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if _STATUS.search(line.split("#", 1)[0])
    ]
    assert found == []
