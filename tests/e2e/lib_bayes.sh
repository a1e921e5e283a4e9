# tests/e2e/lib_bayes.sh - helpers for the bayes_*.sh tests (not a test).
#
# bayes_ctl DIR - a private copy of build/filterctl in DIR, printed: the
# tests run filterctl hundreds of times, and a concurrent `make` relinking
# build/filterctl must not turn one of those runs into "Permission denied".
bayes_ctl() {
	local src=$PWD/build/filterctl dst=$1/filterctl i
	for i in $(seq 50); do
		if cp "$src" "$dst.tmp" 2>/dev/null && chmod +x "$dst.tmp" &&
		    "$dst.tmp" bayes 2>&1 | grep -q '^usage: filterctl bayes'; then
			mv "$dst.tmp" "$dst"
			echo "$dst"
			return 0
		fi
		sleep 0.2
	done
	echo "$src"
}
