"""How big the package is, and how tangled: ``python -m bench.size [PATH]``.

Prints what a maintainer feels: lines of the package (``testing/`` apart,
since it is the stand-in Adobe, not the extension), the longest functions,
the names at the top level, and the import circles between its modules
(every import counts, at module level or inside a function, except under
``if TYPE_CHECKING:``). PATH is a checkout (default: this one), so two
revisions can be compared: ``git worktree add /tmp/before REV`` then
``python -m bench.size /tmp/before``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _modules(package: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports (outside TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
                elif target in known:
                    found.add(target)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "import_module":
            pass  # a lazy re-export by name: counted through the names module below
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    # A module __getattr__ re-exporting from a {name: "module"} table imports those modules.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Dict)
            and node.values
            and all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in node.values)
        ):
            for value in node.values:
                assert isinstance(value, ast.Constant)
                candidate = f"{package}.{value.value}"
                if candidate in known and "import_module" in path.read_text(encoding="utf-8"):
                    found.add(candidate)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def _functions(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
            found.append((node.end_lineno - node.lineno + 1, f"{path.stem}.{node.name}"))
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    package = root / "flask_adobe_oauth"
    modules = _modules(package)
    core = {n: p for n, p in modules.items() if ".testing" not in n}
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in core.values())
    graph = {n: _imports(n, p, set(modules)) for n, p in modules.items()}
    functions = sorted((f for p in core.values() for f in _functions(p)), reverse=True)
    init = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    top = next(
        (
            len(node.value.elts)
            for node in init.body
            if isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "__all__" for t in node.targets)
            and isinstance(node.value, (ast.List, ast.Tuple))
        ),
        0,
    )
    readme = len((root / "README.md").read_text(encoding="utf-8").splitlines())
    cycles = _cycles(graph)
    print(f"package lines (without testing/): {lines} in {len(core)} modules")
    print(f"top-level names (__all__): {top}")
    print(f"README lines: {readme}")
    print(f"import circles: {len(cycles)}")
    for cycle in cycles:
        print("   ", " <-> ".join(m.removeprefix("flask_adobe_oauth.") for m in cycle))
    print("longest functions:", ", ".join(f"{name} {n}" for n, name in functions[:6]))
    print(f"functions over 50 lines: {sum(n > 50 for n, _ in functions)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
