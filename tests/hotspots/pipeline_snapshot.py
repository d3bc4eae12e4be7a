"""The whole analysis pipeline's output on the Gravesham demo, as plain JSON.

``python tests/hotspots/pipeline_snapshot.py [COMMIT]`` writes
``tests/hotspots/data/pipeline_demo.json.gz`` from the code it imports; the file
in the repository was written by the implementation before the pipeline was
vectorised (issue #17: ``git archive main`` of the commit noted in the file,
put first on ``PYTHONPATH``), and ``test_pipeline_snapshot``
checks that today's code gives the same hotspots, statistics, geometry,
profiles and provenance.
"""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "data" / "pipeline_demo.json.gz"
#: method parameters analysed (the CLI's defaults apart from fixed scales)
RUNS = {
    "dbscan": {"method": "dbscan", "eps_m": 150.0, "min_samples": 10},
    "dbscan-auto": {"method": "dbscan"},
    "hexes": {"method": "hexes", "resolution": 9},
    "gistar": {"method": "gistar", "resolution": 9},
    "gistar-harm-k2": {"method": "gistar", "resolution": 10, "k": 2, "value": "harm"},
    "emerging": {"method": "emerging", "resolution": 9},
    "kde": {"method": "kde"},
}
#: provenance keys that change between runs or record timing or where it ran, not results
VOLATILE = {"run_id", "created_at", "stages", "libraries", "software", "execution"}


def plain(v):
    """JSON-able, deterministic form of a value (floats kept at full precision)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, list | tuple | np.ndarray):
        return [plain(x) for x in v]
    if isinstance(v, np.generic):
        return plain(v.item())
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, shapely.Geometry):
        return shapely.to_wkt(shapely.normalize(v), rounding_precision=3)
    return v


def snapshot(store, names=None) -> dict:
    """Runs of :data:`RUNS` (all, or ``names``) on ``store``: hotspots, profiles, provenance."""
    from api.usecases.analyse import analyse_store
    from hotspots.analysis import AnalysisParams

    out = {}
    for name in names or list(RUNS):
        params = RUNS[name]
        result = analyse_store(store, AnalysisParams(**params))
        table = result.hotspots.drop(columns=["run_id"])
        rows = [
            {k: plain(v) for k, v in rec.items()} for rec in table.to_dict("records")
        ]  # geometry included, normalised WKT
        prov = {k: v for k, v in result.provenance.to_dict().items() if k not in VOLATILE}
        out[name] = {
            "hotspots": rows,
            "profiles": plain(result.profiles),
            "provenance": plain(prov),
            "notes": list(result.notes),
        }
    return out


def demo_snapshot() -> dict:
    from geodata.demo import load_demo
    from geodata.stores.duckdb_store import DuckDBStore

    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(str(Path(tmp) / "demo.duckdb"))
        load_demo(store)
        try:
            return snapshot(store)
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    """Write the snapshot; ``argv``: the commit whose code runs (for the record)."""
    argv = sys.argv[1:] if argv is None else argv
    commit = (
        argv[0]
        if argv
        else subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True, check=False
        ).stdout.strip()
    )
    doc = {"generated_by": f"tests/hotspots/pipeline_snapshot.py on {commit}", **demo_snapshot()}
    SNAPSHOT.parent.mkdir(exist_ok=True)
    text = json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n"
    SNAPSHOT.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"wrote {SNAPSHOT} ({SNAPSHOT.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def load() -> dict:
    """The stored snapshot."""
    return json.loads(gzip.decompress(SNAPSHOT.read_bytes()).decode("utf-8"))
