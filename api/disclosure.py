"""Disclosure control: the one place that decides what may leave the service for a role.

Every output that carries incident-derived figures or shapes (run GeoJSON, OGC
items and extents, map pages, share links, area tables, briefings, plans,
incident ids) is passed through a :class:`Disclosure` made for the caller's
role. The rules and their reasoning are in ``docs/disclosure.md``; in short:

- ``analyst`` sees everything.
- Below analyst, hotspots come from the run's **restricted view**, analysed
  without sensitive incidents (:func:`api.usecases.analyse.run_or_reuse` stores it beside
  the full result), drawn as **generalised outlines** (H3 cells, never buffers
  round incidents: :mod:`hotspots.generalise`), and a hotspot on fewer than
  ``min_places`` distinct places is withheld, whatever the method.
- ``public`` also gets every count rounded to the nearest ``rounding`` and every
  count below ``min_count`` suppressed, totals included; figures that would give
  a suppressed count back (shares, components, exact dates, times) are dropped;
  sensitive categories are counted only on their own, never inside a mixed total.
- Incident ids are opaque below analyst, so hidden rows leave no gaps.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field

from geodata.taxonomy import DEFAULT_SENSITIVE

from .security import role_at_least

#: properties of a hotspot that roles below analyst may see (others are dropped)
HOTSPOT_FIELDS = frozenset(
    {
        "hotspot_id", "run_id", "rank", "score", "volume_component", "harm_component",
        "trend_component", "concern_component", "trend_z", "count", "harm",
        "harm_density_per_km2", "density_per_km2", "categories", "top_locations",
        "first_date", "last_date", "distinct_points", "snap_points", "cluster_id", "cell",
        "gi_z", "gi_p",
        "gi_p_sim", "gi_p_fdr", "gi_bin", "emerging", "emerging_trend_z", "emerging_trend_p",
        "profile",
    }
)  # fmt: skip
#: of those, what the public does not get: they would give suppressed counts back
PUBLIC_DROPPED = frozenset(
    {
        "volume_component", "harm_component", "trend_component", "concern_component",
        "distinct_points", "snap_points", "gi_p", "gi_p_sim", "gi_p_fdr", "emerging_trend_p",
    }
)  # fmt: skip
#: a note leading with a count of incidents left out at recording places (api.usecases.analyse)
_LEADING_COUNT = re.compile(r"^(\d[\d,]*) incidents at \d+ recording places? ")
#: an area's figures blanked for the public when its count is suppressed
#: the ``type`` of a stored plan run's result (:mod:`api.usecases.plan_runs`): its views are
#: ``analyst`` and ``restricted`` (made as a partner is), not hotspot features
PLAN_TYPE = "days-of-action-plan-run"
#: the ``type`` of a stored backtest's or evaluation's result
#: (:mod:`api.usecases.stored_documents`): one JSON ``document``, analysts' work
DOCUMENT_TYPE = "document-run"

SUPPRESSED_RATE_FIELDS = (
    "count", "rate", "rate_low", "rate_high", "ratio_to_borough", "previous_year_count",
    "change_pct",
)  # fmt: skip


@dataclass(frozen=True)
class Disclosure:
    """What one role may see.

    Parameters
    ----------
    role : ``analyst``, ``partner`` or ``public``.
    min_count : the public threshold: smaller counts are suppressed (``None``).
    rounding : public counts are rounded to the nearest multiple of this.
    min_places : below analyst, a hotspot or plan site whose incidents sit on fewer
        distinct places is withheld (the single-place rule).
    sensitive : categories whose incidents are sensitive (besides the flag set on
        import), for counting them apart in public aggregates.
    secret : keys the opaque incident ids given below analyst.
    """

    role: str
    min_count: int = 5
    rounding: int = 5
    min_places: int = 3
    sensitive: frozenset[str] = field(default=DEFAULT_SENSITIVE)
    secret: str = ""

    @classmethod
    def for_role(cls, role: str, settings, sensitive=()) -> Disclosure:
        """The policy for ``role`` from the API settings (``public_min_count``,
        ``public_rounding``, ``min_places``, ``secret_key``)."""
        secret = getattr(settings, "secret_key", None)
        return cls(
            role=role,
            min_count=settings.public_min_count,
            rounding=getattr(settings, "public_rounding", 5),
            min_places=getattr(settings, "min_places", 3),
            sensitive=DEFAULT_SENSITIVE | frozenset(sensitive or ()),
            secret=secret.get_secret_value() if secret is not None else "",
        )

    @property
    def analyst(self) -> bool:
        return self.role == "analyst"

    @property
    def public(self) -> bool:
        return not role_at_least(self.role, "partner")

    @property
    def include_sensitive(self) -> bool:
        """Whether sensitive incidents may feed point-level results for this role."""
        return self.analyst

    # -- counts --------------------------------------------------------------------------
    def count(self, n) -> int | None:
        """A count as this role may see it: the public gets ``None`` below ``min_count``
        and the rest rounded to the nearest ``rounding`` (halves up)."""
        if n is None or not self.public:
            return n
        n = int(n)
        if n < self.min_count:
            return None
        return int(self.rounding * math.floor(n / self.rounding + 0.5))

    def figure(self, value, digits: int = 2):
        """A derived figure (harm, density) for this role: two significant figures for
        the public, so a sum of known weights does not give the counts back."""
        if value is None or not self.public:
            return value
        value = float(value)
        if not math.isfinite(value) or value == 0:
            return None if not math.isfinite(value) else 0.0
        return float(f"{value:.{digits}g}")

    def describe(self) -> dict:
        """The rules applied for this role, to put in every answer below analyst."""
        if self.analyst:
            return {"role": "analyst"}
        out = {
            "role": self.role,
            "sensitive_incidents": "left out of hotspots, plans and points; counted only "
            "in ward and LSOA aggregates",
            "outlines": "generalised to H3 cells (resolution 9 for clusters and density "
            "areas, the analysis cell for grid methods)",
            "min_places": self.min_places,
        }
        if self.public:
            out.update(min_count=self.min_count, rounding=self.rounding)
        return out

    # -- run results ---------------------------------------------------------------------
    def run_view(self, fc: dict) -> dict:
        """A run's stored FeatureCollection as this role may see it (a new dict)."""
        if fc.get("type") == PLAN_TYPE:
            return self.plan_view(fc)
        if fc.get("type") == DOCUMENT_TYPE:  # a backtest or an evaluation: no features
            out = {"type": "FeatureCollection", "features": [], "run_id": fc.get("run_id")}
            if self.analyst:
                return {**out, "document": fc["document"], "disclosure": self.describe()}
            return {
                **out,
                "provenance": {"run_id": fc.get("run_id")},
                "notes": ["backtests and evaluations are shown to analysts only"],
                "disclosure": self.describe(),
            }
        if self.analyst:
            out = {k: v for k, v in fc.items() if k != "restricted"}
            out["features"] = [
                {k: v for k, v in f.items() if k != "generalised"} for f in fc.get("features", [])
            ]
            return out
        base = fc.get("restricted") or fc
        withheld = {"few_places": 0, "small_count": 0, "no_outline": 0}
        features = []
        for f in base.get("features", []):
            reason = self._withhold_reason(f)
            if reason:
                withheld[reason] += 1
                continue
            features.append(self._hotspot_feature(f))
        prov = dict(base.get("provenance") or {})
        prov["n_incidents"] = self.count(prov.get("n_incidents"))
        # the values chosen from the data stay; their reasons quote exact counts
        prov["automatic"] = {
            k: {"value": v.get("value"), "reason": "chosen from the data"}
            for k, v in (prov.get("automatic") or {}).items()
        }
        prov["run_id"] = fc.get("run_id")
        out = {
            "type": "FeatureCollection",
            "features": features,
            "run_id": fc.get("run_id"),
            "provenance": prov,
            "notes": [self.note(n) for n in base.get("notes") or []],
            "disclosure": self.describe(),
        }
        if any(withheld.values()):
            out["withheld"] = {"features": sum(withheld.values()), **withheld}
        if self.public:
            out["suppression"] = {
                "role": "public",
                "min_count": self.min_count,
                "rounding": self.rounding,
            }
        return out

    def plan_view(self, result: dict) -> dict:
        """A stored plan as this role may see it: analysts the plan made with every
        incident; partners the one made as a partner (no sensitive incident, no site on
        fewer than ``min_places`` places); the public no plan (plans are for the teams
        who patrol, and a site list is a list of places)."""
        if self.public:
            return {
                "type": "FeatureCollection",
                "features": [],
                "run_id": result.get("run_id"),
                "provenance": {"method": "plan", "run_id": result.get("run_id")},
                "notes": ["plans are shown to partners and analysts only"],
                "disclosure": self.describe(),
            }
        view = dict(result["analyst" if self.analyst else "restricted"])
        view["disclosure"] = self.describe()
        return view

    def note(self, text: str) -> str:
        """A run's note for this role: the public gets the count of incidents left out at
        recording places (the only count a note leads with) rounded or suppressed."""
        m = _LEADING_COUNT.match(text) if self.public else None
        if not m:
            return text
        n = self.count(int(m[1].replace(",", "")))
        lead = f"fewer than {self.min_count}" if n is None else f"about {n:,}"
        return lead + text[len(m[1]) :]

    def _withhold_reason(self, f: dict) -> str | None:
        p = f.get("properties") or {}
        if not f.get("generalised"):
            return "no_outline"  # a run stored before outlines were generalised
        # police.uk snap points are anonymised at source: one of them is enough
        if (p.get("distinct_points") or 0) < self.min_places and not p.get("snap_points"):
            return "few_places"
        if self.public and self.count(p.get("count")) is None:
            return "small_count"
        return None

    def _hotspot_feature(self, f: dict) -> dict:
        g = f["generalised"]
        p = {k: copy.deepcopy(v) for k, v in f["properties"].items() if k in HOTSPOT_FIELDS}
        area_km2 = g["area_m2"] / 1e6
        p["area_m2"] = round(g["area_m2"])
        p["centroid_lon"], p["centroid_lat"] = g["centroid"]
        if area_km2 > 0:
            p["harm_density_per_km2"] = (p.get("harm") or 0.0) / area_km2
            if "density_per_km2" in p:
                p["density_per_km2"] = (p.get("count") or 0) / area_km2
        if self.public:
            self._public_hotspot(p)
        return {"type": "Feature", "id": f.get("id"), "geometry": g["geometry"], "properties": p}

    def _public_hotspot(self, p: dict) -> None:
        for k in PUBLIC_DROPPED:
            p.pop(k, None)
        p["count"] = self.count(p.get("count"))
        for k in ("harm", "harm_density_per_km2", "density_per_km2"):
            if k in p:
                p[k] = self.figure(p[k])
        if p.get("score") is not None:
            p["score"] = round(float(p["score"]), 2)
        for k in ("trend_z", "gi_z", "emerging_trend_z"):
            if p.get(k) is not None:
                p[k] = round(float(p[k]), 1)
        for k in ("first_date", "last_date"):
            if p.get(k):
                p[k] = str(p[k])[:7]  # the month only
        # categories with a suppressed count are left out, so 1–4 reads like none
        p["categories"] = {
            c: self.count(v)
            for c, v in (p.get("categories") or {}).items()
            if self.count(v) is not None
        }
        p["top_locations"] = [
            [loc, self.count(n)]
            for loc, n in p.get("top_locations") or []
            if self.count(n) is not None
        ]
        p["suppressed"] = False  # a hotspot whose count would be suppressed is withheld
        p["rounded_to"] = self.rounding
        if p.get("profile"):
            p["profile"] = self.profile(p["profile"])

    def profile(self, profile: dict) -> dict:
        """A temporal profile for the public: monthly counts rounded or suppressed, no
        hour × weekday matrix, seasonal flags without the shares behind them."""
        if not self.public:
            return profile
        out = dict(profile)
        out["monthly"] = {m: self.count(v) for m, v in (profile.get("monthly") or {}).items()}
        yoy = profile.get("year_on_year")
        if yoy:
            now, before = self.count(yoy.get("count")), self.count(yoy.get("previous_count"))
            out["year_on_year"] = {
                **yoy,
                "count": now,
                "previous_count": before,
                "change_pct": round(100 * (now - before) / before) if now and before else None,
            }
        out["hour_weekday"] = None
        out["hour_weekday_note"] = "not shown to the public"
        for season in ("summer", "halloween_bonfire"):
            if isinstance(out.get(season), dict):
                out[season] = {
                    "flag": out[season].get("flag"),
                    "note": out[season].get("note"),
                }
        return out

    def counts_key(self) -> str:
        """What a run's disclosed counts depend on (not the id secret): the key under
        which they are kept with the run."""
        cats = ",".join(sorted(self.sensitive))
        return f"{self.role}/{self.min_count}/{self.rounding}/{self.min_places}/{cats}"

    def run_counts(self, run) -> tuple[int | None, int]:
        """(incidents, hotspots) of a stored run as this role may see them."""
        view = self.run_view(run.result or {"features": []})
        if self.analyst:
            return run.provenance.get("n_incidents", 0), len(view["features"])
        return view["provenance"].get("n_incidents"), len(view["features"])

    def provenance(self, run) -> dict:
        """A run's provenance for this role: below analyst, that of the restricted view."""
        if self.analyst:
            return run.provenance
        return self.run_view(run.result or {"features": []})["provenance"]

    # -- areas ---------------------------------------------------------------------------
    def area_scope(self, categories, sensitive_present: frozenset[str]) -> tuple[bool, str | None]:
        """Whether an area count may include sensitive incidents, and a note if not.

        The public gets sensitive categories counted only on their own: a mixed total
        less a count published elsewhere (police.uk) would give them back exactly.
        """
        if not self.public:
            return True, None
        sensitive = self.sensitive | sensitive_present
        if categories and set(categories) <= sensitive:
            return True, None
        return False, (
            "sensitive categories (" + ", ".join(sorted(self.sensitive)) + " and any other "
            "configured as sensitive) are not counted in public totals; ask for one on its own"
        )

    def area_props(self, rec: dict, borough_rate: float | None = None) -> dict:
        """One area's figures: the public gets the count rounded (or suppressed) and the
        rate, interval, ratio to the borough (``borough_rate``, itself from the rounded
        borough count) and change worked out from the rounded counts."""
        props = {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
        if not self.public:
            props["suppressed"] = False
            return props
        count = self.count(rec.get("count"))
        if count is None:
            props.update(dict.fromkeys(SUPPRESSED_RATE_FIELDS))
            props["suppressed"] = True
            return props
        import numpy as np

        from hotspots.rates import poisson_interval

        pop = props.get("population")
        props["count"] = count
        if pop:
            low, high = (float(v[0]) for v in poisson_interval(np.array([count])))
            props["rate"] = round(1000 * count / pop, 2)
            props["rate_low"] = round(1000 * low / pop, 2)
            props["rate_high"] = round(1000 * high / pop, 2)
        props["ratio_to_borough"] = (
            round(props["rate"] / borough_rate, 1)
            if pop and borough_rate and props.get("rate") is not None
            else None
        )
        before = self.count(props.get("previous_year_count"))
        props["previous_year_count"] = before
        props["change_pct"] = round(100 * (count - before) / before) if before else None
        props["suppressed"] = False
        props["rounded_to"] = self.rounding
        return props

    def borough(self, borough: dict) -> dict:
        out = {k: (None if isinstance(v, float) and v != v else v) for k, v in borough.items()}
        if self.public:
            out["count"] = self.count(out.get("count"))
            if "outside_areas" in out:
                out["outside_areas"] = self.count(out["outside_areas"])
            pop = out.get("population")
            out["rate"] = round(1000 * out["count"] / pop, 2) if out["count"] and pop else None
            for k in ("rate_low", "rate_high"):
                out.pop(k, None)
        return out

    # -- incident ids --------------------------------------------------------------------
    def incident_id(self, incident_id: str) -> str:
        """The id shown for an incident: below analyst, ``<batch>~<keyed hash>``, so the
        gaps left by sensitive rows (ids are numbered within a batch) do not show."""
        if self.analyst:
            return incident_id
        batch, _, _ = incident_id.rpartition("#")
        mac = hmac.new(self.secret.encode(), b"incident:" + incident_id.encode(), hashlib.sha256)
        return f"{batch}~{mac.hexdigest()[:20]}"


__all__ = ["HOTSPOT_FIELDS", "SUPPRESSED_RATE_FIELDS", "Disclosure"]
