"""Every study notebook runs under papermill (quick parameters) and writes its outputs."""

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from aimclib.pipeline import run_notebook

pytestmark = pytest.mark.slow  # papermill runs of whole notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# What each notebook must write (figures as PNG and PDF, tables as CSV with provenance).
EXPECTED = {
    "00_networks": {"figures": ["networks_reuse"], "tables": ["networks", "network_layers"]},
    "01_single_layer": {"figures": ["single_layer_speedup", "single_layer_energy",
                                    "coupling_crossover"],
                        "tables": ["single_layer", "single_layer_saturation",
                                   "coupling_crossover"]},
    "02_network_coverage": {"figures": ["network_speedup_coverage", "network_energy_coverage",
                                        "network_speedup_tiles", "published_point",
                                        "published_choices", "published_throughput"],
                            "tables": ["network_coverage", "published_point",
                                       "published_point_choices",
                                       "published_point_throughput"]},
    "03_load_balancing": {"figures": ["gantt_tight", "gantt_loose", "gantt_window",
                                      "core_utilisation", "gantt_pipelined",
                                      "balancing_choices"],
                          "tables": ["balancing_summary", "core_utilisation",
                                     "balancing_choices"]},
    "04_allocation": {"figures": ["allocation_strategies", "pareto_front", "tiles_for_speedup",
                                  "replication"],
                      "tables": ["allocation_strategies", "pareto_front", "tiles_for_speedup",
                                 "replication"]},
    "06_sensitivity": {"figures": ["sensitivity_tornado_speedup", "sensitivity_tornado_energy",
                                   "published_region"],
                       "tables": ["sensitivity_tornado", "published_region"]},
    "07_accuracy": {"figures": ["accuracy_coverage", "accuracy_pareto", "accuracy_aware_layers"],
                    "tables": ["accuracy_model", "accuracy_pcm_model", "accuracy_coverage",
                               "accuracy_sensitivity", "accuracy_pareto", "accuracy_aware"]},
}


def test_every_notebook_has_expectations():
    assert sorted(nb.stem for nb in NOTEBOOKS if nb.stem != "05_explorer") == sorted(EXPECTED)


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Every notebook's quick run, two at a time (each runs in a kernel process of its own, so
    the machine's two cores run two notebooks at once): notebook stem -> a future of its
    executed copy, each notebook writing into a folder of its own."""
    root = tmp_path_factory.mktemp("quick")
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    runs = {}
    for nb in NOTEBOOKS:
        if nb.stem in EXPECTED or nb.stem == "05_explorer":
            d = root / nb.stem
            runs[nb.stem] = (d, pool.submit(run_notebook, nb, "quick", d / "figures",
                                            d / "data", d / "out"))
    yield runs
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("notebook", [nb for nb in NOTEBOOKS if nb.stem in EXPECTED],
                         ids=lambda p: p.stem)
def test_notebook_runs_and_writes_outputs(notebook, quick_runs):
    folder, run = quick_runs[notebook.stem]
    run.result()
    figs, data = folder / "figures", folder / "data"
    for stem in EXPECTED[notebook.stem]["figures"]:
        for ext in ("png", "pdf"):
            assert (figs / f"{stem}.{ext}").stat().st_size > 1000
    for stem in EXPECTED[notebook.stem]["tables"]:
        assert len(pd.read_csv(data / f"{stem}.csv")) > 0
        meta = json.loads((data / f"{stem}.provenance.json").read_text())
        assert meta["versions"]["aimclib"] and meta["config"]["notebook"] == notebook.stem


def test_explorer_renders_headless(quick_runs):
    """The interactive explorer (not part of `make figures`) runs under papermill and draws
    its view once with the parameter values."""
    out = quick_runs["05_explorer"][1].result()
    cells = json.loads(out.read_text())["cells"]
    images = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the Gantt chart and the slowest layers


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean(notebook):
    nb = json.loads(notebook.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not any(c.get("outputs") for c in code), "commit notebooks without outputs"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert nb["metadata"]["kernelspec"]["name"] == "aimclib"


def test_committed_networks_table_is_current():
    """data/networks.csv in the repository equals what the library computes now."""
    from aimclib.zoo import STUDY_NETWORKS, summary_table

    committed = pd.read_csv(ROOT / "data" / "networks.csv")
    pd.testing.assert_frame_equal(committed, summary_table(STUDY_NETWORKS), check_dtype=False)
