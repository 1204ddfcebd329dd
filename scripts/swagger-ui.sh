#!/bin/sh
# Fetches the Swagger UI files that Usher embeds for /swagger from the npm
# package swagger-ui-dist (the version pinned in DESIGN.md) and checks them.
#
#   scripts/swagger-ui.sh          re-fetch: replace the vendored files
#   scripts/swagger-ui.sh check    fetch and compare: fail if the vendored
#                                  files differ from the package's
#
# npm verifies the tarball against the registry's integrity hash; the
# SHA256SUMS file beside the vendored files pins what was committed.
set -eu

VERSION=5.35.0
FILES="swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE"
DEST=$(cd "$(dirname "$0")/.." && pwd)/internal/api/apidoc/swaggerui

command -v npm >/dev/null || { echo "swagger-ui.sh: npm is needed to fetch swagger-ui-dist" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null && tar xzf "swagger-ui-dist-$VERSION.tgz")
got=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$work/package/package.json")
[ "$got" = "$VERSION" ] || { echo "swagger-ui.sh: npm gave version $got, want $VERSION" >&2; exit 1; }

case "${1:-fetch}" in
fetch)
	for f in $FILES; do cp "$work/package/$f" "$DEST/$f"; done
	(cd "$DEST" && sha256sum $FILES > SHA256SUMS)
	echo "$VERSION" > "$DEST/VERSION"
	echo "swagger-ui-dist $VERSION vendored in $DEST"
	;;
check)
	[ "$(cat "$DEST/VERSION")" = "$VERSION" ] || { echo "swagger-ui.sh: VERSION file is not $VERSION" >&2; exit 1; }
	(cd "$DEST" && sha256sum -c --quiet SHA256SUMS)
	for f in $FILES; do
		cmp -s "$work/package/$f" "$DEST/$f" || { echo "swagger-ui.sh: $f differs from swagger-ui-dist $VERSION" >&2; exit 1; }
	done
	echo "swagger-ui-dist $VERSION: vendored files match the npm package"
	;;
*)
	echo "usage: $0 [fetch|check]" >&2; exit 2
	;;
esac
