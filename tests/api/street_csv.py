"""Small police.uk street-level CSVs for upload tests (imported by test modules in this
folder, which pytest puts on ``sys.path``)."""

from __future__ import annotations

from geodata.readers.police import POLICE_COLUMNS


def police_csv(
    month: str, rows: int, *, no_coords: int = 0, prefix: str = "t", step_deg: float = 0.0003
) -> bytes:
    """``rows`` burglaries in a west–east row of points ``step_deg`` apart from (0.37, 51.4415),
    ids ``{prefix}{month}-00000`` on; then ``no_coords`` ASB rows without coordinates
    (quarantined on import)."""
    lines = [",".join(POLICE_COLUMNS)]
    for i in range(rows):
        lon, lat = 0.3700 + i * step_deg, 51.4415
        lines.append(
            f"{prefix}{month}-{i:05d},{month},Kent Police,Kent Police,{lon:.6f},{lat:.6f},"
            "On or near Test Street,E01024290,Gravesham 010C,Burglary,Under investigation,"
        )
    for _ in range(no_coords):
        lines.append(f",{month},Kent Police,Kent Police,,,No Location,,,Anti-social behaviour,,")
    return ("\n".join(lines) + "\n").encode()
