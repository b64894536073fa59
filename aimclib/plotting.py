"""Figures of the workbench (seaborn/matplotlib). Every axis carries its unit or says 'count'.

Figures are saved with :func:`save_figure`, which strips the PDF creation date so that a
re-run rewrites identical files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .network import Network


def save_figure(fig: plt.Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (reproducible bytes); returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        meta = {"CreationDate": None} if fmt == "pdf" else {}
        if fmt == "png":
            meta = {"Software": None}
        fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=meta)
        paths.append(path)
    return paths


def network_layers_frame(nets: Sequence[Network]) -> pd.DataFrame:
    """Per-layer MVM weights and MACs of the conv/linear layers of ``nets`` (one tidy table)."""
    frames = []
    for net in nets:
        df = net.to_frame()
        df = df[df["kind"].isin(("conv", "linear"))]
        frames.append(df.assign(network=net.name, position=range(len(df))))
    cols = ["network", "position", "name", "kind", "groups", "weights", "macs",
            "macs_per_weight"]
    return pd.concat(frames, ignore_index=True)[cols]


def plot_network_reuse(nets: Sequence[Network]) -> plt.Figure:
    """Per-layer MVM weights against MACs (log-log): weight reuse of each network's layers.

    A point's distance above the diagonal ``MACs = weights`` is the layer's reuse (MACs per
    stored weight): linear layers sit on the diagonal, early convolutions far above it.
    """
    df = network_layers_frame(nets)
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.4, 1]})
    ax = axes[0]
    sns.scatterplot(data=df, x="weights", y="macs", hue="network", style="kind",
                    ax=ax, s=22, alpha=0.8, linewidth=0)
    lo = max(1, df["weights"].min())
    hi = df["weights"].max()
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="1 MAC per weight")
    ax.set(xscale="log", yscale="log", xlabel="MVM weights per layer (count)",
           ylabel="MACs per layer (count)", title="Per-layer weights vs work (batch 1)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax = axes[1]
    summary = pd.DataFrame([n.summary() for n in nets])
    sns.barplot(data=summary, y="name", x="macs_per_weight", ax=ax, color="tab:blue")
    ax.bar_label(ax.containers[0], fmt="%.0f", fontsize=7, padding=2)
    ax.set(xlabel="network MACs per MVM weight (MAC/weight)", ylabel="",
           title="Weight reuse per network")
    fig.tight_layout()
    return fig
