"""Lines of code per module and subpackage of lamina (docstrings, comments and blanks excluded).

``python tools/size.py`` prints the table; it exits 1 if a subpackage exceeds its budget
(generous on purpose: the point is to notice growth, not to golf).
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "lamina"
BUDGET = 6000  # lines of code per subpackage
MODULE_WARN = 700  # a module past this is a candidate for splitting


def code_lines(path: Path) -> int:
    """Lines holding code: no blank lines, comments or docstrings."""
    source = path.read_text()
    doc_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant) and isinstance(
                    body[0].value.value, str):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc_lines)


def main() -> int:
    per_package: dict[str, int] = defaultdict(int)
    rows = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent)
        n = code_lines(path)
        package = rel.parts[1] if len(rel.parts) > 2 else "(top level)"
        per_package[package] += n
        rows.append((str(rel), n))
    width = max(len(r) for r, _ in rows)
    for rel, n in rows:
        flag = "  <- consider splitting" if n > MODULE_WARN else ""
        print(f"{rel:<{width}} {n:6d}{flag}")
    print()
    over = False
    for package, n in sorted(per_package.items(), key=lambda kv: -kv[1]):
        mark = "  OVER BUDGET" if n > BUDGET else ""
        over |= n > BUDGET
        print(f"{package:<{width}} {n:6d}{mark}")
    print(f"{'total':<{width}} {sum(per_package.values()):6d}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
