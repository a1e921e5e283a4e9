#!/usr/bin/env python3
"""tests/bench/gen_zipf.py COUNT OUT [SEED] - an mbox of COUNT synthetic
messages of 300 words each, drawn from a 2M-word vocabulary with Zipf
frequencies (s = 1.05), the shape of a big, varied Junk folder: 20,000
messages have ~730k distinct words. Used by tests/bench/bayes.sh to time
learning a store that outgrows a small cache."""
import itertools
import random
import sys

count, out = int(sys.argv[1]), sys.argv[2]
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 11)
V = 2_000_000
letters = "abcdefghijklmnopqrstuvwxyz"


def word(i):
    x = (i * 2654435761) % (1 << 40)
    w = []
    for _ in range(8):
        w.append(letters[x % 26])
        x //= 26
    return "".join(w)


cum = list(itertools.accumulate(1.0 / (i + 1) ** 1.05 for i in range(V)))
idx = range(V)
with open(out, "w") as f:
    for m in range(count):
        ws = [word(i) for i in random.choices(idx, cum_weights=cum, k=300)]
        f.write(f"From sender{m}@example.org Sat Nov 28 10:00:00 2026\n"
                f"From: sender{m % 997}@example.org\nTo: user@example.net\n"
                f"Subject: note {m}\nMessage-ID: <zipf{m}@example.org>\n"
                f"Date: Sat, 28 Nov 2026 10:00:00 +0000\n\n")
        for k in range(0, 300, 12):
            f.write(" ".join(ws[k:k + 12]) + "\n")
        f.write("\n")
