"""Regenerate the table reference in docs/data-model.md from the schema module.

Run: .venv/bin/python scripts/gen_data_model.py  (tests check the doc is current)
"""

from pathlib import Path

from shopscope.schema import TABLES

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-model.md"
START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def render() -> str:
    out = [START]
    for spec in TABLES.values():
        out.append(f"\n### `{spec.name}`\n")
        if spec.description:
            out.append(spec.description + "\n")
        key = ", ".join(spec.primary_key) or "none (see idempotency in docs/ingest.md)"
        out.append(f"Key: {key}." + (f" Grows by `{spec.time_column}`." if spec.time_column
                                      else "") + "\n")
        out.append("| column | type | required | rules | meaning |")
        out.append("|---|---|---|---|---|")
        for c in spec.columns:
            rules = []
            if c.min_value is not None:
                rules.append((">= " if c.min_inclusive else "> ") + f"{c.min_value:g}")
            if c.allowed:
                rules.append("one of " + ", ".join(f"`{a}`" for a in c.allowed))
            if c.references:
                rules.append(f"→ `{c.references}`")
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if not c.nullable else ''} | "
                       f"{'; '.join(rules)} | {c.description} |")
    out.append(END)
    return "\n".join(out)


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + render() + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
