#!/usr/bin/env bash
# Fetch the maps' browser assets (Leaflet and plugins) from the npm registry,
# pinned by version and integrity hash in maps/vendor.txt, into
# maps/static/vendor/<package>/ (gitignored; served by the API under
# /static/vendor and inlined into standalone map files).
#
# Idempotent: a package whose stamp matches its pinned integrity is skipped.
# Fails (exit 1) when npm is missing, a download fails or a tarball's hash
# differs from the pin. Needs npm, tar and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# maps/vendor.txt: the maps' assets; api/docs-vendor.txt: Swagger UI for /docs.
manifests=(maps/vendor.txt api/docs-vendor.txt)
dest=maps/static/vendor

need_fetch=0
while read -r name version integrity files; do
    case "$name" in ''|'#'*) continue ;; esac
    stamp="$dest/$name/.integrity"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$name@$version $integrity" ]; then
        need_fetch=1
    fi
done < <(cat "${manifests[@]}")
if [ "$need_fetch" -eq 0 ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        echo "fetch-assets: installing npm with apt" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "fetch-assets: npm is needed to fetch the map assets (apt-get install npm)" >&2
        exit 1
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

while read -r name version integrity files; do
    case "$name" in ''|'#'*) continue ;; esac
    stamp="$dest/$name/.integrity"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$name@$version $integrity" ]; then
        continue
    fi
    echo "fetch-assets: $name@$version" >&2
    filename="$(cd "$work" && npm pack --silent "$name@$version" | tail -n1)"
    tarball="$work/$filename"
    if [ -z "$filename" ] || [ ! -f "$tarball" ]; then
        echo "fetch-assets: npm pack $name@$version made no tarball" >&2
        exit 1
    fi
    # npm checks the registry's hash; we check ours against the pin as well.
    got="sha512-$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")"
    if [ "$got" != "$integrity" ]; then
        echo "fetch-assets: $name@$version: integrity mismatch" >&2
        echo "  expected $integrity" >&2
        echo "  received $got" >&2
        exit 1
    fi
    unpack="$work/$name"
    mkdir -p "$unpack"
    tar -xzf "$tarball" -C "$unpack"
    rm -rf "${dest:?}/$name"
    mkdir -p "$dest/$name"
    for f in $files; do
        if [ ! -f "$unpack/package/$f" ]; then
            echo "fetch-assets: $name@$version has no file $f" >&2
            exit 1
        fi
        mkdir -p "$dest/$name/$(dirname "$f")"
        cp "$unpack/package/$f" "$dest/$name/$f"
    done
    if [ -f "$unpack/package/LICENSE" ]; then cp "$unpack/package/LICENSE" "$dest/$name/"; fi
    echo "$name@$version $integrity" > "$stamp"
done < <(cat "${manifests[@]}")
