"""Map benchmark: our hotspot map of 1M incidents against plain Folium with 10k markers.

Ours: ``synthetic_incidents(N, snapped=True, keep_density=True, months=24)``
(seed ``--seed``; police.uk-like snap points, the square grown to keep the
density of 100k), a Gi* run at H3 resolution 9 (``run_analysis``), then the
analyst's map (``maps.render.build_map`` + ``render_html``): Gi* hexagons with
popups, sparklines and the month slider, and every incident as clustered
points aggregated by place (at most ``MAX_POINTS`` places). The analysis is
not timed; the map build is.

Peer at its best, same run: ``folium.Map`` with ``folium.Marker`` for the first
10k incidents (folium's documented way to show points), default options.

Sizes: the HTML as written (ours in both modes: ``link`` as the API serves
it, ``inline`` as ``hotspots map`` writes it; the peer's with its CDN links).
Load: headless Debian chromium (Playwright, ``executable_path``), a fresh page
per run, from ``goto`` to the ``load`` event plus one animation frame, with
tiles aborted; both pages load the same local Leaflet (the peer's CDN links
are pointed at our vendored copies, and its jQuery/Bootstrap/Font Awesome
dropped, which only makes the peer faster). Median of ``--repeat`` runs
(min–max).

Run: ``python -m benchmarks.bench_map [--n 1000000] [--markers 10000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


def _median(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"


def ours(n: int, seed: int, repeat: int) -> dict:
    from benchmarks.synthetic import synthetic_incidents
    from hotspots.analysis import AnalysisParams, run_analysis
    from maps.render import MapOptions, build_map, render_html

    data = synthetic_incidents(n, seed=seed, snapped=True, keep_density=True, months=24)
    data["occurred_precision"] = "month"
    data["batch_id"] = "synthetic/" + data["occurred_at"].dt.strftime("%Y-%m")
    t0 = time.perf_counter()
    result = run_analysis(data, AnalysisParams(method="gistar", resolution=9))
    analysis_s = time.perf_counter() - t0
    import json

    fc = json.loads(result.to_json())
    pages, times = {}, []
    for mode in ("link", "inline"):
        for _ in range(repeat if mode == "link" else 1):
            t0 = time.perf_counter()
            m = build_map(
                fc,
                "gistar",
                MapOptions(role="analyst", assets=mode, asset_base="vendor", title="bench"),
                incidents=data[["lon", "lat", "category"]],
            )
            page = render_html(m)
            if mode == "link":
                times.append(time.perf_counter() - t0)
        pages[mode] = page
    return {
        "pages": pages,
        "build_s": times,
        "hotspots": len(fc["features"]),
        "analysis_s": analysis_s,
        "distinct_points": int(data[["lon", "lat"]].drop_duplicates().shape[0]),
    }


def peer(n_markers: int, seed: int, repeat: int) -> dict:
    import folium

    from benchmarks.synthetic import synthetic_incidents

    data = synthetic_incidents(n_markers, seed=seed, snapped=True, months=24)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        m = folium.Map(location=[51.44, 0.37], zoom_start=12)
        for lat, lon in zip(data["lat"], data["lon"]):
            folium.Marker([lat, lon]).add_to(m)
        page = m.get_root().render()
        times.append(time.perf_counter() - t0)
    # for loading offline: the same local Leaflet as ours instead of the CDN
    local = page
    for name, url in folium.Map.default_js + folium.Map.default_css:
        if name == "leaflet":
            local = local.replace(url, "vendor/leaflet/dist/leaflet.js")
        elif name == "leaflet_css":
            local = local.replace(url, "vendor/leaflet/dist/leaflet.css")
        else:
            local = local.replace(url, "data:,")
    return {"page": page, "local": local, "build_s": times}


def load_times(files: dict[str, Path], repeat: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {k: [] for k in files}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for _ in range(repeat):
            for name, path in files.items():
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.route(
                    "**/*",
                    lambda r: (
                        r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
                    ),
                )
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t0 = time.perf_counter()
                page.goto(path.as_uri(), wait_until="load", timeout=120_000)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
                out[name].append(time.perf_counter() - t0)
                if errors:
                    raise RuntimeError(f"{name}: page errors {errors[:3]}")
                page.close()
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--markers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from maps.assets import VENDOR_DIR, check_assets

    check_assets()
    o = ours(args.n, args.seed, args.repeat)
    q = peer(args.markers, args.seed, args.repeat)
    mb = 1e6
    sizes = {
        "ours (link)": len(o["pages"]["link"].encode()) / mb,
        "ours (inline)": len(o["pages"]["inline"].encode()) / mb,
        "peer": len(q["page"].encode()) / mb,
    }
    print(
        f"data: N={args.n:,} synthetic incidents (seed {args.seed}, "
        f"{o['distinct_points']:,} distinct points, density kept as at 100k), Gi* res 9 → "
        f"{o['hotspots']:,} hotspot cells (analysis {o['analysis_s']:.1f} s, not timed below); "
        f"peer: folium.Marker × {args.markers:,}"
    )
    print(
        f"HTML size: ours {sizes['ours (link)']:.2f} MB served / {sizes['ours (inline)']:.2f} MB "
        f"standalone; peer {sizes['peer']:.2f} MB; ratio peer/ours "
        f"{sizes['peer'] / sizes['ours (inline)']:.1f}× (standalone)"
    )
    print(
        f"build s, median (min–max) of {args.repeat}: ours {_median(o['build_s'])}; "
        f"peer {_median(q['build_s'])}; ratio peer/ours "
        f"{statistics.median(q['build_s']) / statistics.median(o['build_s']):.1f}×"
    )
    if not CHROMIUM.exists():
        print(f"load: skipped ({CHROMIUM} is absent; scripts/install-browser.sh)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-map-"))
    try:
        os.symlink(VENDOR_DIR, tmp / "vendor")
        files = {"ours": tmp / "ours.html", "ours-inline": tmp / "ours-inline.html"}
        files["ours"].write_text(o["pages"]["link"], encoding="utf-8")
        files["ours-inline"].write_text(o["pages"]["inline"], encoding="utf-8")
        files["peer"] = tmp / "peer.html"
        files["peer"].write_text(q["local"], encoding="utf-8")
        t = load_times(files, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"load in headless chromium s, median (min–max) of {args.repeat}: "
        f"ours {_median(t['ours'])} (standalone {_median(t['ours-inline'])}); "
        f"peer {_median(t['peer'])}; ratio peer/ours "
        f"{statistics.median(t['peer']) / statistics.median(t['ours']):.1f}×"
    )
    ok = sizes["ours (inline)"] < 5 and statistics.median(t["ours"]) < 3
    print(f"target (< 5 MB, < 3 s to open): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
