"""Before/after evaluation of a logged intervention: its windows, its target, buffer
and control areas, and the evaluation itself (what the CLI and the web API share).

Evaluation areas (:func:`plan_evaluation`), all in the analysis CRS:

- **target**: the intervention's area;
- **buffer**: the ring ``buffer_m`` metres (default 200) round the target, where
  displacement (or a diffusion of benefits) would show;
- **control**: by default (``auto``) the rest of the ward(s) the target
  touches, minus the target and the buffer; the rest of the borough (the stored
  district boundary, else the union of wards) when the target covers half or
  more of those wards. The Weighted Displacement Difference compares raw
  changes in counts, so the control should be near the target in size: a whole
  borough as control would swamp a small target. ``borough`` or ``ward`` can
  be asked for, or an area code, or a polygon.

Windows (:func:`default_windows`): police.uk dates every incident to the first
of its month, so the default windows are whole calendar months: the ``months``
(default 3) before the month the intervention starts and as many after the
month it ends. The intervention's own months are in neither window. Windows
that run past the stored data are refused, naming the months without data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geodata.coverage import coverage_of
from geodata.errors import HotspotsError, NotFound
from geodata.interventions import (
    InvalidIntervention,
    from_lonlat,
    intervention_polygon,
    polygon_from_geojson,
    to_lonlat_geojson,
)
from geodata.model import InterventionRecord
from geodata.stores import IncidentQuery, Store
from geodata.vocab import DEFAULT_BUFFER_M, DEFAULT_WINDOW_MONTHS


class InvalidEvaluation(HotspotsError, ValueError):
    """An evaluation cannot be run as asked; ``field`` names the parameter."""

    status = 422
    type = "invalid-evaluation"

    def __init__(
        self, field: str, problem: str, *, status: int = 422, type: str | None = None
    ) -> None:
        self.field = field
        self.status = status  # 409: the stored data cannot answer; 404: an unknown code
        self.type = type or {409: "conflict", 404: "not-found"}.get(status, self.type)
        super().__init__(f"evaluation parameter {field!r}: {problem}")

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out["field"] = self.field
        return out


# --------------------------------------------------------------------------- windows


def _month_start(d: date, shift: int = 0) -> datetime:
    index = d.year * 12 + (d.month - 1) + shift
    return datetime(index // 12, index % 12 + 1, 1)


def default_windows(
    record: InterventionRecord, months: int = DEFAULT_WINDOW_MONTHS
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """``(before, after)`` as ``(start, end)`` pairs, end exclusive: ``months`` whole
    calendar months before the intervention's first month and after its last.

    >>> from datetime import date
    >>> rec = InterventionRecord("i", "t", "patrols", "polygon", [], {}, date(2022, 6, 15),
    ...     date(2022, 6, 15), None, "", datetime(2024, 1, 1), "me")
    >>> [f"{a:%Y-%m} to {b:%Y-%m}" for a, b in default_windows(rec)]
    ['2022-03 to 2022-06', '2022-07 to 2022-10']
    """
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise InvalidEvaluation("months", f"expected a whole number ≥ 1; received {months!r}")
    first = _month_start(record.start_date)
    after_start = _month_start(record.end_date, 1)
    return (
        (_month_start(record.start_date, -months), first),
        (after_start, _month_start(record.end_date, 1 + months)),
    )


def _months_between(start: datetime, end: datetime) -> list[str]:
    out = []
    m = datetime(start.year, start.month, 1)
    while m < end:
        out.append(f"{m:%Y-%m}")
        m = _month_start(m.date(), 1)
    return out


# --------------------------------------------------------------------------- areas


@dataclass
class EvaluationPlan:
    """The areas (analysis CRS) and windows of one before/after evaluation."""

    record: InterventionRecord
    target: BaseGeometry
    buffer: BaseGeometry  # the ring round the target
    control: BaseGeometry
    control_label: str
    buffer_m: float
    before: tuple[datetime, datetime]
    after: tuple[datetime, datetime]
    crs: str
    categories: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        km2 = 1e-6
        return {
            "intervention_id": self.record.intervention_id,
            "title": self.record.title,
            "control": self.control_label,
            "buffer_m": self.buffer_m,
            "before": [self.before[0].isoformat(), self.before[1].isoformat()],
            "after": [self.after[0].isoformat(), self.after[1].isoformat()],
            "categories": self.categories,
            "area_km2": {
                "target": round(self.target.area * km2, 6),
                "buffer": round(self.buffer.area * km2, 6),
                "control": round(self.control.area * km2, 6),
            },
            "notes": self.notes,
        }

    def outlines(self) -> dict[str, dict]:
        """Target, buffer and control as WGS84 GeoJSON geometries."""
        return {
            "target": to_lonlat_geojson(self.target, self.crs),
            "buffer": to_lonlat_geojson(self.buffer, self.crs),
            "control": to_lonlat_geojson(self.control, self.crs),
        }


def _parse_when(value: object, what: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        for fmt in ("%Y-%m-%d", "%Y-%m"):
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    raise InvalidEvaluation(what, f"expected a date YYYY-MM-DD or month YYYY-MM; got {value!r}")


def _window(value: object, what: str) -> tuple[datetime, datetime] | None:
    if value is None:
        return None
    try:
        start, end = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InvalidEvaluation(
            what, f"expected (start, end), end exclusive; received {value!r}"
        ) from None
    a, b = _parse_when(start, what), _parse_when(end, what)
    if b <= a:
        raise InvalidEvaluation(
            what,
            f"expected the end after the start; received {a:%Y-%m-%d} to {b:%Y-%m-%d}",
            type="window-order",
        )
    return a, b


def study_area(store: Store) -> BaseGeometry | None:
    """The borough: the union of the stored district boundaries, else of the wards."""
    for kind in ("district", "ward"):
        areas = store.boundaries(kind)
        if len(areas):
            return shapely.union_all(areas.geometry.to_numpy())
    return None


def _wards_overlapping(store: Store, target: BaseGeometry):
    """Stored wards sharing area with the target (1 % of it, or 1 m², at least): wards that
    only touch its edge, or slivers left by rounding, do not count."""
    wards = store.boundaries("ward")
    if wards.empty:
        return wards
    shared = wards.geometry.intersection(target).area
    return wards[shared >= max(1.0, 0.01 * target.area)]


def _auto_control(store: Store, target: BaseGeometry) -> str:
    """``"ward"`` unless the target covers half or more of the wards it touches (a
    ward-wide intervention), or no wards are loaded: then ``"borough"``.

    The Weighted Displacement Difference compares raw changes in counts, so a
    control far busier than the target would swamp it: the ward is the nearer
    match in size.
    """
    touching = _wards_overlapping(store, target)
    if touching.empty:
        return "borough"
    covered = target.intersection(shapely.union_all(touching.geometry.to_numpy())).area
    total = float(touching.geometry.area.sum())
    return "borough" if total <= 0 or covered / total >= 0.5 else "ward"


def evaluation_areas(
    store: Store,
    record: InterventionRecord,
    buffer_m: float = DEFAULT_BUFFER_M,
    control: str | dict | None = None,
) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry, str]:
    """``(target, buffer ring, control area, control label)`` in the analysis CRS.

    ``control``: ``"auto"`` (default: :func:`_auto_control`), ``"borough"``,
    ``"ward"``, ``"ward:CODE"`` / ``"lsoa:CODE"`` (a stored area), or a GeoJSON
    polygon (WGS84). Whatever it is, the target and the buffer are cut out of
    it. :class:`InvalidEvaluation` names ``buffer_m`` or ``control``.
    """
    try:
        buffer_m = float(buffer_m)
    except (TypeError, ValueError):
        buffer_m = float("nan")
    if not (0 <= buffer_m <= 5000):
        raise InvalidEvaluation("buffer_m", f"expected 0 to 5000 metres; received {buffer_m!r}")
    crs = store.analysis_crs
    target = intervention_polygon(record, crs)
    grown = target.buffer(buffer_m) if buffer_m > 0 else target
    ring = grown.difference(target)
    label = "borough"
    if control is None or control == "auto":
        control = _auto_control(store, target)
    if control == "borough":
        base = study_area(store)
        if base is None:
            raise InvalidEvaluation(
                "control",
                "no district or ward boundaries are loaded to take the rest of the borough "
                "from; load them (`hotspots import boundaries`) or give a control area",
                status=409,
            )
    elif control == "ward":
        touching = _wards_overlapping(store, target)
        if touching.empty:
            raise InvalidEvaluation(
                "control",
                "the target touches no stored ward; give another control area",
                status=409,
            )
        base = shapely.union_all(touching.geometry.to_numpy())
        label = "ward " + ", ".join(touching["code"])
    elif isinstance(control, str) and ":" in control:
        kind, _, code = control.partition(":")
        if kind not in ("ward", "lsoa", "district"):
            raise InvalidEvaluation(
                "control",
                f"expected borough, ward, ward:CODE, lsoa:CODE or a polygon; got {control!r}",
            )
        try:
            base = store.area_polygon(kind, code)
        except NotFound:
            raise InvalidEvaluation(
                "control", f"no {kind} with code {code!r} is loaded", status=404
            ) from None
        label = f"{kind} {code}"
    elif isinstance(control, dict):
        try:
            base = from_lonlat(polygon_from_geojson(control, "control"), crs)
        except InvalidIntervention as exc:
            raise InvalidEvaluation(
                "control", exc.message.split(": ", 1)[-1], type=exc.type
            ) from None
        label = "given polygon"
    else:
        raise InvalidEvaluation(
            "control", f"expected borough, ward, ward:CODE, lsoa:CODE or a polygon; got {control!r}"
        )
    control_area = base.difference(grown)
    if control_area.is_empty or control_area.area < 1.0:
        raise InvalidEvaluation(
            "control",
            f"the control area ({label}) is empty once the target and its {buffer_m:g} m "
            "buffer are cut out; choose a larger control",
            status=409,
        )
    return target, ring, control_area, label


def plan_evaluation(
    store: Store,
    record: InterventionRecord,
    *,
    buffer_m: float = DEFAULT_BUFFER_M,
    control: str | dict | None = None,
    before: object = None,
    after: object = None,
    months: int = DEFAULT_WINDOW_MONTHS,
    categories: list[str] | None = None,
    check_data: bool = True,
) -> EvaluationPlan:
    """The target, buffer ring, control area (:func:`evaluation_areas`) and windows for
    evaluating ``record``. ``before`` / ``after``: ``(start, end)`` pairs (end
    exclusive; dates or ``YYYY-MM``), each defaulting to :func:`default_windows`.
    With ``check_data``, windows that run past the stored months are refused.
    """
    target, ring, control_area, label = evaluation_areas(store, record, buffer_m, control)
    buffer_m = float(buffer_m)
    crs = store.analysis_crs
    defaults = default_windows(record, months)
    plan = EvaluationPlan(
        record=record,
        target=target,
        buffer=ring,
        control=control_area,
        control_label=label,
        buffer_m=buffer_m,
        before=_window(before, "before") or defaults[0],
        after=_window(after, "after") or defaults[1],
        crs=crs,
        categories=list(categories) if categories else None,
    )
    if plan.before[1] > plan.after[0]:
        raise InvalidEvaluation(
            "after",
            "expected the after window to start when the before window has ended",
            type="window-order",
        )
    if check_data:
        _check_data(store, plan)
    return plan


def _check_data(store: Store, plan: EvaluationPlan) -> None:
    """Refuse windows with a month that a source of the categories has not loaded: that
    month's count is unknown, not zero (:mod:`geodata.coverage`)."""
    covered = coverage_of(store).covered(plan.categories, plan.before[0], plan.after[1])
    for what, (start, end) in (("before", plan.before), ("after", plan.after)):
        missing = [m for m in _months_between(start, end) if m in covered.skipped]
        if not covered.sources:
            missing = _months_between(start, end)
        if missing:
            why = sorted({covered.skipped.get(m, "nothing loaded") for m in missing})
            raise InvalidEvaluation(
                what,
                f"{', '.join(missing)} in the {what} window {start:%Y-%m-%d} to "
                f"{end:%Y-%m-%d} (end exclusive) are not loaded ({'; '.join(why)}); load those "
                "months or choose shorter windows",
                status=409,
                type="data-not-loaded",
            )


# --------------------------------------------------------------------------- evaluation


def evaluate_plan(
    store: Store, plan: EvaluationPlan, harm_weights=None, *, include_sensitive: bool = True
) -> dict[str, Any]:
    """Run the before/after evaluation of a plan (:func:`hotspots.beforeafter.evaluate`);
    ``include_sensitive=False`` leaves sensitive incidents out (for roles below analyst).

    Returns plain data: the intervention, the plan, the result (counts, WDD,
    harm-weighted WDD, percent changes), the ``verdict`` (``reduction``,
    ``increase`` or ``no evidence of change``), the ``summary`` in plain words,
    and the outlines of the three areas. The buffer is passed as a polygon and
    the control has no buffer of its own (the default control surrounds the
    target's buffer, so a ring round it would lie partly in the target's own
    area and partly outside the ward): the WDD then drops the control-buffer
    terms, as Wheeler & Ratcliffe allow.
    """
    from hotspots.beforeafter import evaluate

    grown = shapely.union(plan.target, plan.buffer)
    zone = shapely.union(grown, plan.control)
    incidents = store.query_incidents(
        IncidentQuery(
            start=plan.before[0],
            end=plan.after[1],
            categories=plan.categories,
            within=zone,
            include_sensitive=include_sensitive,
            columns=["id", "category", "occurred_at", "occurred_precision", "x", "y"],
        )
    ).to_pandas()
    try:
        result = evaluate(
            incidents,
            plan.target,
            plan.control,
            grown if plan.buffer_m > 0 else None,
            before=plan.before,
            after=plan.after,
            harm_weights=harm_weights,
        )
    except ValueError as exc:
        text = str(exc)
        name, sep, problem = text.partition(": ")
        field_name = name if sep and " " not in name else "evaluation"
        raise InvalidEvaluation(field_name, problem or text) from None
    doc = json.loads(json.dumps(result.to_dict(), default=str))
    doc = finite_json(doc)
    return {
        "intervention": plan.record.to_dict(),
        "plan": plan.describe(),
        "verdict": result.verdict,
        "summary": result.summary,
        "result": doc,
        "outlines": plan.outlines(),
    }


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities as ``null`` (strict JSON for the API and ``--json``)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value


def evaluate_intervention(
    store: Store,
    intervention_id: str,
    *,
    harm_weights=None,
    include_sensitive: bool = True,
    **plan_kwargs,
) -> dict[str, Any]:
    """Plan and run the evaluation of a stored intervention; :class:`NotFound` if unknown."""
    record = store.get_intervention(intervention_id)
    if record is None:
        raise NotFound(f"no intervention {intervention_id!r}; see `hotspots interventions list`")
    plan = plan_evaluation(store, record, **plan_kwargs)
    return evaluate_plan(store, plan, harm_weights, include_sensitive=include_sensitive)
