"""Every number the README (and docs/model.md) marks as a claim equals the text the notebooks
computed for it (data/claims.json, written by `make figures`), and the claims mechanism itself
works."""

import json
from pathlib import Path

import pytest

from aimclib.claims import CLAIM, Claims, flatten, load, main, update_markdown
from aimclib.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MODEL_DOC = ROOT / "docs" / "model.md"
CLAIMS = ROOT / "data" / "claims.json"


def test_readme_marks_its_numbers():
    assert len(CLAIM.findall(README.read_text())) >= 10


@pytest.mark.parametrize("doc", [README, MODEL_DOC], ids=["README", "model.md"])
def test_every_marked_number_equals_its_claim(doc):
    claims = flatten(load(CLAIMS))
    assert claims, f"{CLAIMS} is missing or empty: run `make figures`"
    _, problems = update_markdown(doc.read_text(), claims)
    assert problems == [], (f"{doc.name} numbers differ from data/claims.json; run "
                            f"`.venv/bin/python -m aimclib.claims {doc.relative_to(ROOT)}`:\n"
                            + "\n".join(problems))


def test_claims_roundtrip_and_update(tmp_path):
    path = tmp_path / "claims.json"
    c = Claims(path, "01_x")
    assert c.add("speed", 1.9749, "{:.2f}x") == "1.97x"
    assert c.add("share", 0.4123, "{:.0%}") == "41%"
    Claims(path, "02_y").add("other", "vgg16", "{}")
    assert load(path)["01_x"]["speed"] == {"value": 1.9749, "text": "1.97x"}
    text = "a <!--claim:speed-->2.00x<!--/claim--> b <!--claim:share-->41%<!--/claim-->"
    new, problems = update_markdown(text, flatten(load(path)))
    assert new == "a <!--claim:speed-->1.97x<!--/claim--> b <!--claim:share-->41%<!--/claim-->"
    assert problems == ["speed: README '2.00x' != data '1.97x'"]
    # a re-run notebook drops its old claims, keeps the others'
    Claims(path, "01_x").add("speed", 2.0, "{:.2f}x")
    assert flatten(load(path)) == {"speed": "2.00x", "other": "vgg16"}
    with pytest.raises(ParameterError, match="already a claim of 02_y"):
        Claims(path, "03_z").add("other", 1)
    # the command line: --check reports and fails, a plain run rewrites, unknown names fail
    md = tmp_path / "x.md"
    md.write_text("a <!--claim:speed-->1.97x<!--/claim-->")
    assert main([str(md), "--claims", str(path), "--check"]) == 1
    assert "1.97x" in md.read_text()
    assert main([str(md), "--claims", str(path)]) == 0
    assert "2.00x" in md.read_text() and main([str(md), "--claims", str(path), "--check"]) == 0
    md.write_text("<!--claim:nope-->1<!--/claim-->")
    assert main([str(md), "--claims", str(path)]) == 1


def test_claims_file_is_deterministic(tmp_path):
    for path in (tmp_path / "a.json", tmp_path / "b.json"):
        c = Claims(path, "n")
        c.add("z", 1.5)
        c.add("a", 2)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert list(json.loads((tmp_path / "a.json").read_text())["n"]) == ["a", "z"]
