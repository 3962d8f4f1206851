"""The chart drawn under a finished comparison, as a static PNG (matplotlib is imported
only when one is drawn)."""

from __future__ import annotations

import io
from typing import Any


def chart_image(frame: Any, metric: str | None = None) -> Any:
    """The default chart (or ``metric``'s) as a PNG image (None without matplotlib or with
    nothing to plot)."""
    from ..comparisons import views

    if metric is None:
        metric = "tokens_per_s" if frame["tokens_per_s"].notna().any() else "latency_s"
        if not frame[metric].notna().any():
            return None
    try:
        fig = views.plot(frame, metric=metric)
    except ImportError:
        return None
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    _close(fig)
    return Image(data=buffer.getvalue(), format="png")


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)
