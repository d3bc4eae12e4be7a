"""Fitting a plan's route into the shifts asked for: which sites on which day, at what time.

A plan for "Friday and Saturday, 18:00–23:00" is two shifts of five hours. The
sites, already in visiting order, are taken in turn: each shift starts at its
first site, and a site goes into the current shift when travelling to it and
spending ``hours_per_site`` there still ends within the shift; otherwise the next
shift starts with it. Sites that fit no shift are listed with the reason, never
silently dropped or squeezed in.

Examples
--------
>>> fit = fit_shifts([0.0, 400.0, 500.0, 300.0], 1.0, 4000.0, ("Fri", "Sat"), (18, 20))
>>> [(s.day, s.sites) for s in fit.shifts]
[('Fri', [1]), ('Sat', [2])]
>>> fit.unplaced
[3, 4]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Shift:
    """One shift: its day and window, the sites visited (visit numbers) with arrival and
    departure times, and the hours it uses."""

    day: str
    window: str
    sites: list[int] = field(default_factory=list)
    times: list[dict] = field(default_factory=list)
    hours_used: float = 0.0
    hours_available: float = 0.0


@dataclass
class ShiftFit:
    """Shifts with their sites; ``unplaced`` visit numbers that fit no shift; ``notes``."""

    shifts: list[Shift]
    unplaced: list[int]
    notes: list[str]

    @property
    def fits(self) -> bool:
        return not self.unplaced

    def to_dict(self) -> dict:
        return {
            "fits": self.fits,
            "shifts": [asdict(s) for s in self.shifts],
            "unplaced": self.unplaced,
            "notes": self.notes,
        }


def _clock(minutes: int) -> str:
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fit_shifts(
    legs_m: list[float],
    hours_per_site: float,
    speed_m_per_h: float,
    days: tuple[str, ...] | None,
    hours_of_day: tuple[int, int],
) -> ShiftFit:
    """Put sites (in visiting order; ``legs_m[i]`` is the distance from site ``i`` to the
    one before it, 0 for the first) into one shift per day of ``days`` (one shift when
    no days are given), each running ``hours_of_day`` (may wrap midnight)."""
    start, end = hours_of_day
    length = float((end - start) % 24 or 24)
    labels = list(days) if days else ["any day"]
    window = f"{start:02d}:00–{end % 24:02d}:00"
    shifts = [Shift(day, window, hours_available=length) for day in labels]
    unplaced: list[int] = []
    current = 0
    for i, leg in enumerate(legs_m):
        visit = i + 1
        placed = False
        while current < len(shifts):
            shift = shifts[current]
            travel = (leg / speed_m_per_h) if shift.sites else 0.0
            if shift.hours_used + travel + hours_per_site <= length + 1e-9:
                arrive = shift.hours_used + travel
                # the stay is the same whole minutes at every site (rounding the arrival
                # and the departure apart could make a 90-minute stay 89)
                at = round((start + arrive) * 60)
                shift.times.append(
                    {
                        "visit": visit,
                        "arrive": _clock(at),
                        "leave": _clock(at + round(hours_per_site * 60)),
                        "travel_minutes": round(travel * 60),
                    }
                )
                shift.sites.append(visit)
                shift.hours_used = round(arrive + hours_per_site, 4)
                placed = True
                break
            current += 1
        if not placed:
            unplaced.append(visit)
    notes = []
    if hours_per_site > length:
        notes.append(
            f"a visit of {hours_per_site:g} h is longer than the {length:g} h shift: no site fits"
        )
    elif unplaced:
        need = len(unplaced) * hours_per_site
        notes.append(
            f"site(s) {', '.join(map(str, unplaced))} do not fit in {len(shifts)} shift(s) of "
            f"{length:g} h ({window}) with {hours_per_site:g} h per site and the travel between "
            f"them; they need about {need:g} h more: add a day, shorten the visits or plan "
            "fewer sites"
        )
    used = [s for s in shifts if s.sites]
    if used:
        notes.insert(
            0,
            "; ".join(
                f"{s.day} {s.window}: site{'s' if len(s.sites) > 1 else ''} "
                f"{_span(s.sites)} ({s.hours_used:.1f} of {s.hours_available:g} h)"
                for s in used
            ),
        )
    return ShiftFit(shifts, unplaced, notes)


def _span(visits: list[int]) -> str:
    return str(visits[0]) if len(visits) == 1 else f"{visits[0]}–{visits[-1]}"


__all__ = ["Shift", "ShiftFit", "fit_shifts"]
