"""No import cycle among flightnb's modules: the layers import downwards only.

Every import counts, module-level, inside functions and under ``TYPE_CHECKING`` alike: a
cycle hidden behind a lazy import is still two modules that need each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "flightnb"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "_proto" not in path.relative_to(PACKAGE).parts
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The flightnb module ``name`` means (``a.b.c`` may be a name inside module ``a.b``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for name in names:
            target = _resolve(name, modules)
            # Importing a submodule runs its package's __init__; that is not a dependency
            # of the importer on the package's other modules.
            if target is not None and target != module and not module.startswith(f"{target}."):
                found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert len(graph) > 40  # the walk found the package
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]


# --- the server stands on its own ---------------------------------------------------------

#: Client-side packages and modules: the server imports none of them.
CLIENT_SIDE = (
    "flightnb.client",
    "flightnb.sql",
    "flightnb.scan",
    "flightnb.functions",
)


def _uses_grpc_aio(path: Path) -> bool:
    """Whether the module's own source imports ``grpc.aio``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            if any(a.name == "grpc.aio" or a.name.startswith("grpc.aio.") for a in node.names):
                return True
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            if node.module == "grpc.aio" or node.module.startswith("grpc.aio."):
                return True
            if node.module == "grpc" and any(a.name == "aio" for a in node.names):
                return True
    return False


def _reach(starts: set[str], graph: dict[str, set[str]]) -> set[str]:
    """Every module imported from ``starts``, with the packages whose ``__init__`` runs.

    The top-level ``flightnb/__init__.py`` is not followed: it exports the client lazily
    (a fresh interpreter checks that in tests/server/test_server_alone.py).
    """
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = [module.rsplit(".", n)[0] for n in range(1, module.count(".") + 1)]
        todo.extend(p for p in parents if p in graph)
        if module != "flightnb":
            todo.extend(graph.get(module, ()))
    return seen


def grpc_aio_modules() -> set[str]:
    """flightnb's modules whose own source imports ``grpc.aio``."""
    return {name for name, path in _modules().items() if _uses_grpc_aio(path)}


def grpc_aio_users() -> set[str]:
    """flightnb's modules that import ``grpc.aio``, themselves or through another module."""
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    direct = grpc_aio_modules()
    return {name for name in graph if name != "flightnb" and _reach({name}, graph) & direct}


def test_the_aio_users_are_found() -> None:
    users = grpc_aio_users()
    assert {"flightnb.transport.calls", "flightnb.client.aio", "flightnb.sql.client"} <= users
    assert "flightnb.transport.locations" not in users


def test_the_server_imports_no_client_code() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    server = {name for name in modules if name.startswith("flightnb.server")}
    reached = _reach(server, graph)
    assert "flightnb.protocol.commands" in reached  # the walk follows the server's imports
    client = {m for m in reached if any(m == c or m.startswith(f"{c}.") for c in CLIENT_SIDE)}
    assert client == set()
    assert reached & grpc_aio_users() == set()


def test_the_reach_includes_packages_run_on_the_way() -> None:
    graph: dict[str, set[str]] = {"flightnb": {"x"}, "p": set(), "p.q": set(), "s": {"p.q"}}
    assert _reach({"s"}, graph) == {"s", "p.q", "p"}
