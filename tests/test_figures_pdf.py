"""Every PDF figure is ready for an IEEE paper: no Type 3 fonts (PDF eXpress rejects them) and a
page exactly one or two columns wide (aimclib.figstyle.WIDTHS_IN, 3.5 in or 7.16 in).

The PDFs are parsed here with zlib and regular expressions (matplotlib writes plain PDF objects
and Flate streams), so the check needs no PDF library.
"""

import re
import zlib
from pathlib import Path

import pytest

from aimclib.figstyle import WIDTHS_IN

ROOT = Path(__file__).resolve().parents[1]
PDFS = sorted((ROOT / "figures").glob("*.pdf")) + sorted((ROOT / "figures" / "extra").glob("*.pdf"))
TOLERANCE_IN = 0.02
MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def pdf_text(data: bytes) -> bytes:
    """The PDF's bytes followed by every Flate stream it holds, decompressed (object streams
    can hide font dictionaries from a plain search)."""
    parts = [data]
    for m in STREAM.finditer(data):
        try:
            parts.append(zlib.decompress(m.group(1)))
        except zlib.error:
            continue  # not a Flate stream (e.g. a raw image)
    return b"\n".join(parts)


def page_widths_in(data: bytes) -> list[float]:
    return [(float(m.group(3)) - float(m.group(1))) / 72.0 for m in MEDIABOX.finditer(data)]


def check_pdf(data: bytes) -> list[str]:
    """Problems of one PDF file: Type 3 fonts, page widths that are no column width."""
    problems = []
    text = pdf_text(data)
    if re.search(rb"/Subtype\s*/Type3", text):
        problems.append("embeds a Type 3 font (set pdf.fonttype 42: use aimclib.figstyle)")
    widths = page_widths_in(text)
    if not widths:
        problems.append("has no /MediaBox")
    for w in widths:
        if not any(abs(w - col) <= TOLERANCE_IN for col in WIDTHS_IN.values()):
            problems.append(f"page is {w:.3f} in wide, not {' or '.join(map(str, WIDTHS_IN.values()))}"
                            f" in (do not save with bbox_inches='tight')")
    return problems


def test_there_are_figures():
    assert PDFS, "no PDF in figures/: run `make figures`"


@pytest.mark.parametrize("pdf", PDFS, ids=lambda p: p.relative_to(ROOT / "figures").as_posix())
def test_pdf_is_ieee_ready(pdf):
    assert check_pdf(pdf.read_bytes()) == []


def test_the_check_finds_type3_fonts_and_wrong_widths(tmp_path):
    """The checker itself: a figure saved the old way (Type 3, tight bounding box) fails, one
    saved with aimclib.figstyle passes."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    from aimclib import figstyle

    with mpl.rc_context({"pdf.fonttype": 3}):
        fig = Figure(figsize=(5, 2))
        fig.add_subplot().set_title("Type 3 text")
        fig.savefig(tmp_path / "old.pdf", bbox_inches="tight")
    problems = check_pdf((tmp_path / "old.pdf").read_bytes())
    assert any("Type 3" in p for p in problems) and any("wide" in p for p in problems)

    @figstyle.styled
    def good():
        fig, ax = figstyle.figure("single", height_in=2.0)
        ax.set_title("TrueType text")
        return fig

    figstyle.save(good(), tmp_path / "new", formats=("pdf",))
    assert check_pdf((tmp_path / "new.pdf").read_bytes()) == []
