"""Numbers the prose quotes, computed by the notebooks and checked against the README.

A study notebook records every number it states with :meth:`Claims.add`; the record goes to
``data/claims.json`` (``{notebook: {name: {"value": v, "text": "1.97x"}}}``, names unique
across notebooks). The README marks each number it quotes with the claim's name::

    half of the layer gives <!--claim:dense_half_speedup-->1.97x<!--/claim--> on 8 cores

(the markers are HTML comments: invisible on GitHub). ``python -m aimclib.claims README.md``
rewrites every marked number from ``data/claims.json`` (``make figures`` runs it after the
notebooks); ``--check`` only reports differences, and ``tests/test_readme_claims.py`` fails on
any, so a quoted number cannot drift from the data that backs it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .errors import ParameterError

CLAIM = re.compile(r"<!--claim:(?P<name>[A-Za-z0-9_.-]+)-->(?P<text>.*?)<!--/claim-->",
                   re.DOTALL)
"""A marked number in Markdown: ``<!--claim:NAME-->TEXT<!--/claim-->``."""

NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def load(path: str | Path) -> dict:
    """The claims file as ``{notebook: {name: {"value", "text"}}}`` (empty when absent)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def flatten(record: dict) -> dict[str, str]:
    """``{name: text}`` over every notebook of a claims record."""
    return {name: entry["text"] for claims in record.values() for name, entry in claims.items()}


class Claims:
    """The numbers one notebook states. Creating it drops the notebook's earlier claims from
    ``path`` (so a renamed claim does not linger); every :meth:`add` rewrites the file
    (sorted keys: the same claims give the same bytes)."""

    def __init__(self, path: str | Path, notebook: str):
        self.path = Path(path)
        self.notebook = notebook
        record = load(self.path)
        record[notebook] = {}
        self._record = record
        self._write()

    def add(self, name: str, value, fmt: str = "{:g}") -> str:
        """Record ``value`` under ``name`` with its text ``fmt.format(value)`` (the exact
        string the README shows, e.g. ``"{:.2f}x"``); returns the text for printing."""
        if not NAME.match(name):
            raise ParameterError(f"claim name {name!r}: use letters, digits, '_', '.', '-'")
        for other, claims in self._record.items():
            if other != self.notebook and name in claims:
                raise ParameterError(f"claim {name!r} of {self.notebook} is already a claim "
                                     f"of {other}; claim names are unique across notebooks")
        raw = value.item() if hasattr(value, "item") else value
        text = fmt.format(raw)
        self._record[self.notebook][name] = {"value": raw, "text": text}
        self._write()
        return text

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self._record, indent=1, sort_keys=True) + "\n")


def update_markdown(text: str, claims: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with every marked number replaced by its claim's text, and the list of
    problems (``name: README 'a' != data 'b'`` for each change, unknown names)."""
    problems: list[str] = []

    def replace(m: re.Match) -> str:
        name, shown = m["name"], m["text"]
        if name not in claims:
            problems.append(f"{name}: no such claim in the data (README shows {shown!r})")
            return m.group(0)
        if shown != claims[name]:
            problems.append(f"{name}: README {shown!r} != data {claims[name]!r}")
        return f"<!--claim:{name}-->{claims[name]}<!--/claim-->"

    return CLAIM.sub(replace, text), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimclib.claims",
                                     description="Rewrite (or --check) the numbers a Markdown "
                                                 "file marks as claims from data/claims.json.")
    parser.add_argument("markdown", type=Path, nargs="+", help="files to update, e.g. README.md")
    parser.add_argument("--claims", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data" / "claims.json")
    parser.add_argument("--check", action="store_true", help="report differences, change "
                                                             "nothing; exit 1 on any")
    args = parser.parse_args(argv)
    claims = flatten(load(args.claims))
    if not claims:
        print(f"aimc claims: error: no claims in {args.claims}; run `make figures` first",
              file=sys.stderr)
        return 2
    status = 0
    for path in args.markdown:
        new, problems = update_markdown(path.read_text(), claims)
        unknown = [p for p in problems if "no such claim" in p]
        for p in problems:
            print(f"{path}: {p}")
        if unknown or (args.check and problems):
            status = 1
        if not args.check and new != path.read_text():
            path.write_text(new)
            print(f"{path}: {len(problems) - len(unknown)} number(s) updated from {args.claims}")
    return status


if __name__ == "__main__":
    sys.exit(main())
