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
    line: int
    in_function: bool
    explained: bool


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


def imports_of(
    *, module: str, source: str, is_package: bool, roots: tuple[str, ...]
) -> list[Import]:
    found: list[Import] = []
    lines = source.splitlines()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                else:
                    base = resolve(child, module, is_package)
                    names = [f"{base}.{alias.name}" for alias in child.names]
                for name in names:
                    if name.split(".")[0] in roots:
                        why = explained(lines, child.lineno)
                        found.append(Import(module, name, child.lineno, in_function, why))
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, inside)

    visit(ast.parse(source), False)
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


def explained(lines: list[str], line: int) -> bool:
    above = lines[line - 2].strip() if line >= 2 else ""
    return above.startswith(WHY_MARKER) or WHY_MARKER in lines[line - 1]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def module_problems(*, module: str, source: str, is_package: bool = False) -> list[str]:
    """What is wrong with one module's imports; `source` is its text."""
    order, exceptions, _ = load_config()
    roots = tuple({package.split(".")[0] for layer in order for package in layer})
    problems = []
    for imp in imports_of(module=module, source=source, is_package=is_package, roots=roots):
        where = f"{module}:{imp.line}"
        source_layer, target_layer = layer_of(imp.importer, order), layer_of(imp.imported, order)
        upward = (
            source_layer is not None and target_layer is not None and target_layer < source_layer
        )
        allowed = any(_within(imp.importer, a) and _within(imp.imported, b) for a, b in exceptions)
        if upward and not allowed:
            assert source_layer is not None and target_layer is not None
            problems.append(
                f"{where}: imports {imp.imported} from the layer {order[target_layer][0]}, "
                f"above its own ({order[source_layer][0]})"
            )
        if imp.in_function and not imp.explained:
            problems.append(
                f"{where}: imports {imp.imported} inside a function; import it at the top, "
                f"or say why on the line above ({WHY_MARKER} ...)"
            )
    return problems


def violations(paths: list[Path]) -> list[str]:
    problems = []
    for path in paths:
        problems += module_problems(
            module=module_name(path),
            source=path.read_text(),
            is_package=path.name == "__init__.py",
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
