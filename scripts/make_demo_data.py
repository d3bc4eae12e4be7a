"""Rebuild the demo dataset shipped in ``geodata/demo/`` from ``../shared/data``.

The demo is real, public data for Gravesham (Kent), unmodified apart from
selection:

- ``gravesham-police-2022.zip``: the eleven 2022 police.uk street-level
  extracts (``police/gravesham_area/2022-*.csv``: Kent Police rows in and
  round Gravesham), laid out as police.uk's own download
  (``YYYY-MM/YYYY-MM-kent-street.csv``);
- ``gravesham-wards-2013.geojson``, ``gravesham-lsoa-2011.geojson``,
  ``gravesham-district.geojsonl``: boundaries, copied as they are;
- ``gravesham-lsoa11-population-mid2019.csv``: the mid-2019 population of
  Gravesham's 64 LSOAs (2011 codes, as the 2022 police.uk files use).

Run: ``python scripts/make_demo_data.py [path/to/shared/data]``.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "geodata" / "demo"


def main(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    police = sorted(
        (shared / "police" / "gravesham_area").glob("2022-*-kent-street_gravesham-area.csv")
    )
    with zipfile.ZipFile(OUT / "gravesham-police-2022.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for path in police:
            month = path.name[:7]
            info = zipfile.ZipInfo(
                f"{month}/{month}-kent-street.csv", date_time=(2023, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    b = shared / "boundaries"
    shutil.copyfile(
        b / "martinjc_UK-GeoJSON" / "gravesham_wards2013_E07000109.geojson",
        OUT / "gravesham-wards-2013.geojson",
    )
    shutil.copyfile(
        b / "martinjc_UK-GeoJSON" / "gravesham_lsoa2011_E07000109.geojson",
        OUT / "gravesham-lsoa-2011.geojson",
    )
    shutil.copyfile(
        b / "open-innovations_geography-bits" / "LAD21CD_E07000109.geojsonl",
        OUT / "gravesham-district.geojsonl",
    )
    codes = {
        f["properties"]["LSOA11CD"]
        for f in json.loads((OUT / "gravesham-lsoa-2011.geojson").read_text())["features"]
    }
    rows = []
    with open(
        shared / "population" / "lsoa11_population_mid2019_EW.csv", encoding="utf-8-sig"
    ) as f:
        for code, pop in csv.reader(f):
            if code in codes:
                rows.append((code, pop))
    with open(OUT / "gravesham-lsoa11-population-mid2019.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["lsoa11cd", "population"])
        writer.writerows(sorted(rows))
    print(
        f"{len(police)} police files, {len(rows)} LSOA populations "
        f"(total {sum(int(p) for _, p in rows):,}) written to {OUT}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
