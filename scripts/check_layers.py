"""The layer check: every project import, function-level ones included, points down or sideways.

The layers and their one named exception live in pyproject.toml (`[tool.deepflame.layers]`).
A module belongs to the layer whose package is the longest prefix of its name, which is what
lets the offer catalog (`offers`) sit below segments while the rules (`offers.rules`) sit above.
import-linter's layers cannot say "offers without offers.rules", hence this small check.

It also refuses an import of a project module placed inside a function unless a comment on
the line above says why (`# imported here: ...`).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHY_MARKER = "# imported here:"


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    path: Path
    line: int
    in_function: bool


def load_config() -> tuple[list[list[str]], set[tuple[str, str]], list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["deepflame"]["layers"]
    exceptions = {(e["importer"], e["imported"]) for e in config.get("exceptions", [])}
    return config["order"], exceptions, config["source_folders"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, roots: tuple[str, ...]) -> list[Import]:
    importer = module_name(path)
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                else:
                    module = resolve(child, importer, path.name == "__init__.py")
                    names = [f"{module}.{alias.name}" for alias in child.names]
                for name in names:
                    if name.split(".")[0] in roots:
                        found.append(Import(importer, name, path, child.lineno, in_function))
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inside)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def layer_of(module: str, order: list[list[str]]) -> int | None:
    """The index of the layer owning `module` (0 is the top), by the longest package prefix."""
    best: tuple[int, int] | None = None
    for index, packages in enumerate(order):
        for package in packages:
            owns = module == package or module.startswith(package + ".")
            if owns and (best is None or len(package) > best[0]):
                best = (len(package), index)
    return None if best is None else best[1]


def explained(imp: Import) -> bool:
    lines = imp.path.read_text().splitlines()
    above = lines[imp.line - 2].strip() if imp.line >= 2 else ""
    return above.startswith(WHY_MARKER) or WHY_MARKER in lines[imp.line - 1]


def violations(paths: list[Path]) -> list[str]:
    order, exceptions, _ = load_config()
    roots = tuple({package.split(".")[0] for layer in order for package in layer})
    problems = []
    for path in paths:
        for imp in imports_of(path, roots):
            where = f"{imp.path.relative_to(ROOT)}:{imp.line}"
            source, target = layer_of(imp.importer, order), layer_of(imp.imported, order)
            upward = source is not None and target is not None and target < source
            allowed = any(
                (imp.importer == a or imp.importer.startswith(a + "."))
                and (imp.imported == b or imp.imported.startswith(b + "."))
                for a, b in exceptions
            )
            if upward and not allowed:
                problems.append(
                    f"{where}: {imp.importer} (layer {order[source][0]}) imports "
                    f"{imp.imported} (layer {order[target][0]}, above it)"
                )
            if imp.in_function and not explained(imp):
                problems.append(
                    f"{where}: {imp.importer} imports {imp.imported} inside a function; "
                    f"import it at the top, or say why on the line above ({WHY_MARKER} ...)"
                )
    return problems


def source_files() -> list[Path]:
    _, _, folders = load_config()
    return sorted(
        path
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


def main() -> int:
    problems = violations(source_files())
    for problem in problems:
        print(problem)
    print(f"layer check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
