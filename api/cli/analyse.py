"""``hotspots analyse``: find and rank hotspots, stored as a run (as ``POST /analyses``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .cluster import DaskOpt, ParentResOpt, cluster_engine
from .common import JsonOpt, StoreOpt, cli_settings
from .common import load_concern as _load_concern
from .common import load_harm_weights as _load_harm_weights
from .common import open_cli_store as _store
from .common import parse_when as _parse_when
from .output import (
    fail,
    out,
    print_json,
    print_ranked,
    reporting_errors,
)
from .progress import AnalysisDisplay


def analyse(
    method: Annotated[
        str, typer.Option(help="dbscan, hdbscan, hexes, gistar, emerging or kde.")
    ] = "dbscan",
    categories: Annotated[str | None, typer.Option(help="Comma-separated category slugs.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last month or day, inclusive.")] = None,
    eps_m: Annotated[
        float | None, typer.Option(help="DBSCAN radius, m (default: from data).")
    ] = None,
    min_samples: Annotated[
        int | None, typer.Option(help="DBSCAN/HDBSCAN min samples (default: from data).")
    ] = None,
    min_cluster_size: Annotated[
        int | None, typer.Option(help="HDBSCAN min cluster size (default: from data).")
    ] = None,
    cluster_selection: Annotated[
        str, typer.Option(help="HDBSCAN: leaf (smallest dense places) or eom (most persistent).")
    ] = "leaf",
    resolution: Annotated[
        int | None, typer.Option(help="H3 resolution 7-10 (default: data).")
    ] = None,
    k: Annotated[int, typer.Option(help="Gi* neighbours: k-ring.")] = 1,
    value: Annotated[str, typer.Option(help="Grid value: count or harm.")] = "count",
    permute: Annotated[
        bool, typer.Option(help="Gi*: conditional permutation inference (seeded).")
    ] = False,
    permutations: Annotated[int, typer.Option(help="Permutations when --permute.")] = 999,
    fdr: Annotated[bool, typer.Option(help="Benjamini-Hochberg FDR for Gi* classes.")] = False,
    bandwidth_m: Annotated[float | None, typer.Option(help="KDE bandwidth, m.")] = None,
    cell_m: Annotated[float, typer.Option(help="KDE cell size, m.")] = 50.0,
    seed: Annotated[int, typer.Option(help="Seed for every random step.")] = 0,
    top: Annotated[int, typer.Option(help="How many ranked hotspots to show.")] = 10,
    weights: Annotated[
        str | None,
        typer.Option(help="Ranking weights, e.g. volume=0.25,harm=0.35,trend=0.15,concern=0.25."),
    ] = None,
    concern: Annotated[
        Path | None, typer.Option(help="Your own community-concern profile (TOML).")
    ] = None,
    harm_weights: Annotated[Path | None, typer.Option(help="Your own harm weights (TOML).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write the ranked hotspots as GeoJSON.")
    ] = None,
    include_artefacts: Annotated[
        bool,
        typer.Option(help="Keep incidents at recording places (e.g. 'On or near Police Station')."),
    ] = False,
    dask: DaskOpt = None,
    dask_parent_res: ParentResOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find hotspots, rank them by volume, harm, trend and community concern."""
    from hotspots.analysis import AnalysisParams

    try:
        params = AnalysisParams(
            method=method,
            categories=tuple(c.strip() for c in categories.split(",")) if categories else None,
            start=_parse_when(from_, end=False),
            end=_parse_when(to, end=True),
            eps_m=eps_m,
            min_samples=min_samples,
            min_cluster_size=min_cluster_size,
            cluster_selection=cluster_selection,
            resolution=resolution,
            k=k,
            value=value,
            permutations=permutations if permute else 0,
            fdr=fdr,
            bandwidth_m=bandwidth_m,
            cell_m=cell_m,
            seed=seed,
        )
        from hotspots.ranking import RankingWeights

        ranking = RankingWeights.parse(weights) if weights else RankingWeights()
    except ValueError as exc:
        fail(str(exc), 2, as_json)
    request = {
        "method": method,
        "categories": list(params.categories) if params.categories else None,
        "from": from_,
        "to": to,
        "eps_m": eps_m,
        "min_samples": min_samples,
        "min_cluster_size": min_cluster_size,
        "cluster_selection": cluster_selection,
        "resolution": resolution,
        "k": k,
        "value": value,
        "permute": permute,
        "permutations": permutations,
        "fdr": fdr,
        "bandwidth_m": bandwidth_m,
        "cell_m": cell_m,
        "seed": seed,
        "weights": ranking.normalised() if weights else None,
        "include_artefacts": include_artefacts,
    }
    with reporting_errors(as_json), _store(store) as st:
        from ..usecases.analyse import run_or_reuse

        harm = _load_harm_weights(harm_weights)
        profile = _load_concern(concern)
        with (
            AnalysisDisplay() as shown,
            cluster_engine(cli_settings(store), dask, dask_parent_res, shown.tasks) as engine,
        ):
            run, created = run_or_reuse(
                st,
                request,
                params,
                ranking,
                weights=harm if harm_weights else None,
                concern=profile if concern else None,
                engine=engine,
                progress=shown.stage,
            )
    from ..disclosure import Disclosure

    doc = Disclosure(role="analyst").run_view(run.result)
    if output is not None:
        output.write_text(json.dumps(doc, default=str), encoding="utf-8")
    if as_json:
        print_json({**doc, "stored": {"run_id": run.run_id, "created": created}})
        return
    print_ranked(doc, top)
    out.print(
        f"Run {run.run_id} {'stored' if created else 'was already stored (same request and data)'}"
        f": `hotspots map {run.run_id} -o map.html`, `hotspots share {run.run_id}`."
    )
    if output is not None:
        out.print(f"Wrote {len(doc['features'])} hotspots to {output}.")
