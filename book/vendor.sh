#!/usr/bin/env bash
# Refresh the JavaScript the built book loads locally (widgets and math render offline).
# Fetches pinned npm packages with `npm pack` and copies only the files the pages use into
# book/_static/vendor/. The result is committed; run this only to change a version.
set -euo pipefail
cd "$(dirname "$0")"
VENDOR=_static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @jupyter-widgets/html-manager@1.0.6 requirejs@2.3.7 mathjax@3.2.2 >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
find "$VENDOR" -mindepth 1 ! -name SOURCES.txt ! -name widgets-config.js -delete 2>/dev/null || true
mkdir -p "$VENDOR/mathjax/output/chtml/fonts" "$VENDOR/licenses" "$VENDOR/widgets"
html="$tmp/jupyter-widgets-html-manager-1.0.6/package"
mj="$tmp/mathjax-3.2.2/package"
cp "$tmp/requirejs-2.3.7/package/require.js" "$VENDOR/"
cp "$html/dist/embed-amd.js" "$VENDOR/"
cp "$html"/dist/*.woff2 "$VENDOR/widgets/"   # icon fonts (widgets-config.js says where they are)
cp "$mj/es5/tex-mml-chtml.js" "$VENDOR/mathjax/"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$VENDOR/mathjax/output/chtml/fonts/"
cp "$mj/LICENSE" "$VENDOR/licenses/mathjax-LICENSE.txt"
cp "$html/LICENSE" "$VENDOR/licenses/html-manager-LICENSE.txt"
cp "$html/dist/embed.js.LICENSE.txt" "$VENDOR/licenses/html-manager-bundled-LICENSES.txt"
du -sh "$VENDOR"
