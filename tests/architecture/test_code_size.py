"""Size limits of ``src/``: no file over 500 lines, no function over 60 lines.

Read from the source with ``ast`` (nothing is imported). A function's length runs
from its ``def`` (decorators not counted) to its last line, nested functions
included; a nested function is also measured on its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.import_graph import SRC

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60

# Violations in files other branches are splitting, tolerated until those branches merge.
# This list must shrink to empty: an entry that no longer violates fails the test too,
# so remove it as soon as its function is split.
ALLOWED: frozenset[str] = frozenset({
    "llm_mesh/policy/engine.py: from_config",
    "llm_mesh/policy/engine.py: apply_to_text",
    "llm_mesh/http/app.py: create_app",
})


def _violations(root: Path = SRC) -> dict[str, int]:
    """``"<path>"`` (files) and ``"<path>: <function>"`` (functions) over the limits -> their line counts."""
    found: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_FILE_LINES:
            found[relative] = lines
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    key = f"{relative}: {node.name}"
                    found[key] = max(length, found.get(key, 0))
    return found


def test_no_file_or_function_is_over_the_size_limits():
    unexpected = {key: lines for key, lines in _violations().items() if key not in ALLOWED}
    assert not unexpected, (
        f"over the limits ({MAX_FILE_LINES} lines a file, {MAX_FUNCTION_LINES} a function) in src/; split them:\n"
        + "\n".join(f"  {key} ({lines} lines)" for key, lines in sorted(unexpected.items()))
    )


def test_the_allowed_list_names_only_current_violations():
    stale = sorted(ALLOWED - _violations().keys())
    assert not stale, "no longer over the limits: remove these from ALLOWED in this file:\n" + "\n".join(
        f"  {key}" for key in stale
    )


def test_the_check_finds_a_long_file_and_a_long_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))  # def line + 60 = 61 lines
    (package / "long_function.py").write_text(f"async def too_long():\n{body}\n\n\ndef short():\n    return 1\n")
    (package / "long_file.py").write_text("x = 1\n" * (MAX_FILE_LINES + 1))
    (package / "at_the_limits.py").write_text("def fits():\n" + "    y = 0\n" * (MAX_FUNCTION_LINES - 1))
    assert _violations(tmp_path) == {
        "pkg/long_file.py": MAX_FILE_LINES + 1,
        "pkg/long_function.py: too_long": MAX_FUNCTION_LINES + 1,
    }
