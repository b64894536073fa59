"""The figure style: column widths, the font floor, reproducible files, colours by meaning."""

import matplotlib as mpl
import pytest

from aimclib import figstyle as fs
from aimclib.errors import ParameterError


@fs.styled
def _figure(width="single", text_pt=None):
    fig, ax = fs.figure(width, height_in=2.0)
    ax.plot([1, 10, 100], [1, 3, 2], color=fs.COUPLING["tight"], label="tight")
    fs.unity(ax)
    fs.log_axis(ax, "x")
    ax.set(xlabel="tiles (count)", ylabel="speedup (x)")
    if text_pt is not None:
        ax.text(1, 1, "small", fontsize=text_pt)
    ax.legend()
    return fig


@pytest.mark.parametrize("width", ["single", "double"])
def test_saved_files_have_the_column_width_and_the_same_bytes_twice(tmp_path, width):
    paths = fs.save(_figure(width), tmp_path / "a")
    again = fs.save(_figure(width), tmp_path / "b")
    for p, q in zip(paths, again):
        assert p.read_bytes() == q.read_bytes(), f"{p.suffix}: a re-run changed the bytes"
    pdf = paths[1].read_bytes()
    assert b"/Type3" not in pdf and b"/CreationDate" not in pdf
    assert f"/MediaBox [ 0 0 {72 * fs.WIDTHS_IN[width]:g}".encode() in pdf


def test_the_style_leaves_global_rcparams_alone():
    before = dict(mpl.rcParams)
    _figure()
    assert dict(mpl.rcParams) == before


def test_save_refuses_small_text_and_odd_widths(tmp_path):
    with pytest.raises(ParameterError, match="below 7 pt"):
        fs.save(_figure(text_pt=5), tmp_path / "x")
    with pytest.raises(ParameterError, match="not known"):
        fs.figure("wide")
    fig = _figure()
    fig.set_figwidth(5.0)
    with pytest.raises(ParameterError, match="not a column width"):
        fs.save(fig, tmp_path / "y")


def test_colours_have_one_meaning_each():
    palettes = [fs.COUPLING, fs.WORK, fs.allocation_colors()]
    colours = [c.lower() for p in palettes for c in p.values()]
    assert len(colours) == len(set(colours)), "a colour is used for two meanings"
    neutral = {fs.REFERENCE.lower(), fs.BACKGROUND.lower(), fs.NEUTRAL.lower()}
    assert not neutral & set(colours)


def test_shades_go_from_the_colour_to_lighter():
    s = fs.shades(fs.COUPLING["tight"], 4)
    assert len(s) == 4 and sum(s[0]) < sum(s[-1])
    with pytest.raises(ParameterError):
        fs.shades("#000000", 0)
