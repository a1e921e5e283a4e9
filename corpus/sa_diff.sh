#!/usr/bin/env bash
# corpus/sa_diff.sh - rule by rule, where filterd and SpamAssassin 4.0
# disagree on the 2002 sets (spam-1, easy-ham-1, hard-ham-1), both running
# Debian's stock SpamAssassin rules with no network and no Bayes.
#
#   corpus/sa_diff.sh [N]        N rows per list (default 40)
#
# SpamAssassin's hits come from `spamc -y` against a spamd this script
# starts on a free 127.0.0.1 port (3 clients, ~3 minutes on 2 cores; kept
# in SA_HITS, default build/sa-hits-2002.tsv, and reused while it exists);
# filterd's from build/bench/rules -l. Prints the rules SA fires and
# filterd does not, weighted by |score| x messages (with spam/ham counts,
# whether filterd can run the rule, and its definition), then the rules
# filterd fires and SA does not. Only the 2002 (training) sets are read.
set -u
cd "$(dirname "$0")/.."
. tests/e2e/lib_spamd.sh
rows=${1:-40}
data=$(corpus/fetch.sh 2>/dev/null | tail -n 1)
[ -d "$data" ] || data=corpus/data
sa=/usr/share/spamassassin
hits=${SA_HITS:-build/sa-hits-2002.tsv}
work=$(mktemp -d /tmp/filterd-sa-diff.XXXXXX)
spamd_pid=
trap '[ -n "$spamd_pid" ] && kill "$spamd_pid" 2>/dev/null; rm -rf "$work"' EXIT
for c in spamd spamc python3; do
	command -v $c >/dev/null || { echo "sa_diff: $c missing (make deps)"; exit 1; }
done
[ -x build/bench/rules ] || make -s build/bench/rules || exit 1
for g in easy-ham-1 hard-ham-1 spam-1; do
	find "$data/$g" -type f
done | sort >"$work/list"
[ -s "$work/list" ] || { echo "sa_diff: no corpus (corpus/fetch.sh)"; exit 1; }

if [ ! -s "$hits" ]; then
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	spamd -L -x -s stderr -i 127.0.0.1 -p "$port" -m 2 --min-children=2 \
	    --max-conn-per-child=100000 -u nobody -C "$sa" \
	    --siteconfigpath=/etc/spamassassin -r "$work/spamd.pid" \
	    >"$work/spamd.log" 2>&1 &
	spamd_pid=$!
	spamd_up "$work/spamd.log" ||
	    { echo "sa_diff: spamd did not start"; exit 1; }
	python3 - "$port" "$work/list" "$hits.tmp" <<'PY' || exit 1
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
port, files = sys.argv[1], open(sys.argv[2]).read().split("\n")
files = [f for f in files if f]
def one(f):
    with open(f, "rb") as fh:
        r = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", port, "-y",
            "-s", "5000000", "-t", "300"], stdin=fh, stdout=subprocess.PIPE)
    return "%s\t%s\n" % (f, r.stdout.decode(errors="replace").strip())
with ThreadPoolExecutor(3) as ex:
    out = list(ex.map(one, files))
open(sys.argv[3], "w").write("".join(out))
PY
	mv "$hits.tmp" "$hits"
	kill "$spamd_pid" 2>/dev/null
	spamd_pid=
fi

build/bench/rules -l -r "$sa" -r /etc/spamassassin/local.cf \
    $(cat "$work/list") >"$work/fd.tsv" 2>/dev/null
build/bench/rules -R -r "$sa" -r /etc/spamassassin/local.cf \
    2>/dev/null >"$work/runnable"
python3 - "$hits" "$work/fd.tsv" "$work/runnable" "$sa" "$rows" <<'PY'
import collections, glob, os, re, sys
sa_f, fd_f, run_f, sadir, rows = sys.argv[1:6]
rows = int(rows)
def load(p):
    d = {}
    for l in open(p):
        f, _, v = l.rstrip("\n").partition("\t")
        d[os.path.realpath(f)] = set(x for x in v.split(",") if x)
    return d
sa, fd = load(sa_f), load(fd_f)
runnable = set(open(run_f).read().split())
defs, scores = {}, {}
for p in sorted(glob.glob(os.path.join(sadir, "*.cf"))):
    for l in open(p, errors="replace"):
        m = re.match(r"\s*(header|body|rawbody|uri|full|meta|mimeheader)\s+(\S+)\s+(.*)", l)
        if m:
            defs.setdefault(m.group(2), m.group(1) + " " + m.group(3)[:90])
        m = re.match(r"\s*score\s+(\S+)\s+(.*)", l)
        if m:
            v = [x for x in m.group(2).split() if re.match(r"^-?[0-9.]+$", x)]
            if v:
                scores[m.group(1)] = float(v[-1])
miss, extra = collections.Counter(), collections.Counter()
for f in sa:
    g = "spam" if "/spam-" in f else "ham"
    F = fd.get(f, set())
    for r in sa[f] - F:
        miss[(r, g)] += 1
    for r in F - sa[f]:
        extra[(r, g)] += 1
out = []
for r in set(r for r, _ in miss):
    n = miss[(r, "spam")] + miss[(r, "ham")]
    out.append((abs(scores.get(r, 1.0)) * n, r, miss[(r, "spam")],
                miss[(r, "ham")], "R" if r in runnable else "-"))
out.sort(reverse=True)
print("SA fires, filterd not (weight = |score| x messages; R = runnable here): "
      "total weight %.1f over %d rules" % (sum(o[0] for o in out), len(out)))
for w, r, s, h, rn in out[:rows]:
    print("%7.1f %-30s spam %4d ham %4d %s %s" % (w, r, s, h, rn, defs.get(r, "")))
ex = sorted(((extra[(r, "spam")] + extra[(r, "ham")], r)
             for r in set(r for r, _ in extra)), reverse=True)
print("filterd fires, SA not: %d rules" % len(ex))
for n, r in ex[:rows]:
    print("%5d %-30s spam %4d ham %4d %s" % (n, r, extra[(r, "spam")],
          extra[(r, "ham")], defs.get(r, "")))
PY
