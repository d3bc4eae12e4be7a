"""Generate the SYNTHETIC council example files in this folder (deterministic, seeded).

    python geodata/examples/make_synthetic.py

Writes ``flytipping_synthetic.csv`` (Windows-1252, CRLF, British National Grid)
and ``noise_synthetic.csv`` (UTF-8 with BOM, WGS84). None of the rows is real
council data. Each file carries planted faults (see README.md); the test suite
asserts the exact counts below, so change them together.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240601

WARDS = (
    "Central", "Chalk", "Coldharbour", "Higham", "Istead Rise", "Northfleet North",
    "Northfleet South", "Painters Ash", "Pelham", "Riverside", "Riverview", "Singlewell",
    "Westcourt", "Whitehill", "Woodlands",
)  # fmt: skip
STREETS = (
    "King Street", "Windmill Street", "Parrock Street", "Milton Road", "Pelham Road",
    "Old Road West", "Wrotham Road", "Singlewell Road", "Darnley Road", "Harmer Street",
    "Queen Street", "St George\u2019s Square", "Dover Road", "Perry Street", "Echo Square",
)  # fmt: skip
WASTE_TYPES = (
    "Black Bags - Household", "Black Bags - Commercial", "Other Household Waste",
    "White Goods", "Construction / Demolition / Excavation", "Green", "Tyres",
    "Electrical", "Vehicle Parts", "Other (unidentified)",
)  # fmt: skip
SIZES = ("Single Black Bag", "Single Item", "Car Boot or Less", "Small Van Load",
         "Transit Van Load", "Tipper Lorry Load")  # fmt: skip
LAND_TYPES = ("Highway", "Footpath / Bridleway", "Back Alleyway", "Council Land",
              "Private / Residential", "Watercourse / Bank")  # fmt: skip
NOISE_TYPES = ("Loud music", "Barking dog", "Alarm", "Intruder alarm", "Party noise",
               "Shouting / banging", "DIY", "Construction noise", "Car alarm")  # fmt: skip
PREMISES = ("Residential", "Commercial", "Street / open space")

#: Planted faults: 0-based data-row positions (line number = position + 2).
FLY_ROWS = 60
FLY_BLANK_COORDS = (7, 23, 41)
FLY_BAD_DATE = 15  # "31/02/2024"
FLY_DUPLICATE = (52, 10)  # row 52 repeats row 10's case reference
FLY_UNKNOWN = 33  # waste type "Abandoned Trolley"

NOISE_ROWS = 40
NOISE_BLANK_COORDS = (5, 28)
NOISE_BAD_DATE = 12  # "15/13/2024"
NOISE_DUPLICATE = (36, 3)
NOISE_UNKNOWN = 20  # complaint type "Bonfire smoke"
NOISE_NO_TIME = 9  # blank time: kept, dated to the day


def _day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randrange(182))


def _csv(rows: list[list[str]], newline: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue()


def flytipping_rows(rng: random.Random) -> list[list[str]]:
    header = ["Case Ref", "Date Reported", "Waste Type", "Size", "Land Type", "Easting",
              "Northing", "Street", "Ward"]  # fmt: skip
    rows = [header]
    for i in range(FLY_ROWS):
        rows.append([
            f"FT24/{1001 + i:05d}",
            _day(rng).strftime("%d/%m/%Y"),
            rng.choice(WASTE_TYPES),
            rng.choice(SIZES),
            rng.choice(LAND_TYPES),
            str(rng.randrange(561000, 568000)),
            str(rng.randrange(170000, 175000)),
            rng.choice(STREETS),
            rng.choice(WARDS),
        ])  # fmt: skip
    for i in FLY_BLANK_COORDS:
        rows[i + 1][5] = rows[i + 1][6] = ""
    rows[FLY_BAD_DATE + 1][1] = "31/02/2024"
    dup, first = FLY_DUPLICATE
    rows[dup + 1][0] = rows[first + 1][0]
    rows[FLY_UNKNOWN + 1][2] = "Abandoned Trolley"
    return rows


def noise_rows(rng: random.Random) -> list[list[str]]:
    header = ["Reference", "Date Received", "Time Received", "Complaint Type",
              "Premises Type", "Latitude", "Longitude", "Street", "Ward"]  # fmt: skip
    rows = [header]
    for i in range(NOISE_ROWS):
        rows.append([
            f"NS-2024-{i + 1:04d}",
            _day(rng).strftime("%d/%m/%Y"),
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
            rng.choice(NOISE_TYPES),
            rng.choice(PREMISES),
            f"{rng.uniform(51.42, 51.45):.6f}",
            f"{rng.uniform(0.32, 0.40):.6f}",
            rng.choice(STREETS),
            rng.choice(WARDS),
        ])  # fmt: skip
    for i in NOISE_BLANK_COORDS:
        rows[i + 1][5] = rows[i + 1][6] = ""
    rows[NOISE_BAD_DATE + 1][1] = "15/13/2024"
    dup, first = NOISE_DUPLICATE
    rows[dup + 1][0] = rows[first + 1][0]
    rows[NOISE_UNKNOWN + 1][3] = "Bonfire smoke"
    rows[NOISE_NO_TIME + 1][2] = ""
    return rows


def main(out: Path = HERE) -> None:
    rng = random.Random(SEED)
    fly = _csv(flytipping_rows(rng), "\r\n").encode("cp1252")
    (out / "flytipping_synthetic.csv").write_bytes(fly)
    noise = _csv(noise_rows(rng), "\n").encode("utf-8-sig")
    (out / "noise_synthetic.csv").write_bytes(noise)


if __name__ == "__main__":
    main()
