"""Plans on next month's forecast: sites chosen inside the cells the default forecast flags.

:func:`forecast_filter` runs the backtest use case (:func:`api.usecases.backtests.run_backtest`,
the one path to a forecast) for the plan's categories over every covered month,
with the candidate methods of :data:`hotspots.forecast.CANDIDATES` at H3 res 9 and
5 % of the area, and keeps the plan's incidents that lie in the cells the chosen
method flags for the month after the last covered one. The plan's note says which
method, for which month, and its backtest PAI and PEI. A role below analyst gets a
forecast made without sensitive incidents, as every other output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geodata.stores import Store
from hotspots.forecast import CANDIDATES
from hotspots.forecast.choice import FORECAST_RES, FORECAST_SHARE
from hotspots.grid import assign_cells

from .backtests import run_backtest


def forecast_filter(
    store: Store,
    incidents: pd.DataFrame,
    categories,
    *,
    include_sensitive: bool,
    seed: int = 0,
) -> tuple[pd.DataFrame, str]:
    """(the incidents inside next month's forecast cells, a note for the plan).

    When the backtest has no test month (too few months, or too few incidents in each:
    ``run_backtest``'s ``min_test_count``) the incidents are
    returned unchanged and the note says the plan is not forecast-based."""
    _, doc, _ = run_backtest(
        store,
        categories=list(categories) if categories else None,
        methods=list(CANDIDATES),
        res=FORECAST_RES,
        area_share=FORECAST_SHARE,
        expanding=True,
        seed=seed,
        next_month=True,
        include_sensitive=include_sensitive,
    )
    nm = doc.get("next_month")
    if not nm:
        return incidents, (
            "no forecast: its backtest had no month to test on (too few months loaded, or "
            "fewer than 30 incidents a month), so sites come from the recent months' "
            "incidents alone"
        )
    cells = {c["cell"] for c in nm["cells"]}
    if len(incidents):
        of = assign_cells(
            incidents["lat"].to_numpy(), incidents["lon"].to_numpy(), nm["h3_resolution"]
        )
        keep = np.isin(of, list(cells))
    else:
        keep = np.zeros(0, bool)
    note = (
        f"sites chosen inside next month's ({nm['month']}) forecast: the "
        f"{nm['area_share']:.0%} of the area most at risk; {doc['choice']['sentence']}"
    )
    return incidents.loc[keep], note


__all__ = ["forecast_filter"]
