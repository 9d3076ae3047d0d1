"""The report's plots as PNG bytes, drawn with matplotlib's Agg backend (no display, no network).

Why matplotlib: error bars, grouped lines and labelled axes are what it is for, and Agg renders the
same PNG for the same numbers on every machine with the same matplotlib. It is imported only
here and only when a plot is made.
"""

from __future__ import annotations

import io

from stickeval.report._deps import require

DPI = 100
BOUNDED = ("action_accuracy", "temporal_consistency")  # scores in [0, 1]: drawn on the full scale


def _pyplot():
    matplotlib = require("matplotlib", "matplotlib", "Plotting the report")
    matplotlib.use("Agg", force=True)
    return require("matplotlib.pyplot", "matplotlib", "Plotting the report")


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    require("matplotlib.pyplot", "matplotlib", "Plotting the report").close(fig)
    return buffer.getvalue()


def _errors(estimates: list[dict]) -> tuple[list[float], list[list[float]]]:
    """Means and asymmetric error-bar lengths [[below...], [above...]] of estimate dicts (NaN where undefined)."""
    nan = float("nan")
    means = [nan if e.get("mean") is None else e["mean"] for e in estimates]
    lows = [nan if e.get("ci95", [None])[0] is None else e["ci95"][0] for e in estimates]
    highs = [nan if e.get("ci95", [None, None])[1] is None else e["ci95"][1] for e in estimates]
    return means, [
        [max(0.0, m - lo) for m, lo in zip(means, lows, strict=True)],
        [max(0.0, hi - m) for m, hi in zip(means, highs, strict=True)],
    ]


def noise_plot(per_noise: dict, clean: dict | None, key: str = "action_accuracy") -> bytes:
    """`key` (with 95% CIs) against noise level, one line per noise kind; the clean figure as a dashed line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for offset, (kind, levels) in enumerate(per_noise.items()):
        order = sorted(levels, key=int)
        means, err = _errors([levels[level][key] for level in order])
        x = [int(level) + (offset - len(per_noise) / 2) * 0.03 for level in order]
        ax.errorbar(x, means, yerr=err, marker="o", capsize=3, label=kind)
    if clean and clean.get("mean") is not None:
        ax.axhline(clean["mean"], color="black", linestyle="--", linewidth=1, label="clean")
    ax.set_ylim(-0.03, 1.03)  # accuracies and robustness are fractions
    ax.set_xticks([1, 2, 3], ["1 (10%)", "2 (25%)", "3 (50%)"])
    ax.set_xlabel("noise level (share of words touched)")
    ax.set_ylabel(key.replace("_", " "))
    ax.legend(fontsize=8, ncol=4, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def per_action_plot(per_action: dict) -> bytes:
    """Horizontal bars with 95% CIs per action, one panel per breakdown metric."""
    plt = _pyplot()
    names = list(per_action)
    actions = sorted({a for metric in names for a in per_action[metric]})
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 0.28 * len(actions) + 1.2), sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], names, strict=True):
        means, err = _errors([per_action[metric].get(a, {}) for a in actions])
        ax.barh(range(len(actions)), means, xerr=err, capsize=2, color="#1f77b4")
        ax.set_title(metric.replace("_", " "), fontsize=9)
        if metric in BOUNDED:
            ax.set_xlim(0, 1.02)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(actions)), actions, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return _png(fig)
