#!/usr/bin/env python3
# filterd/cfg_keys_md.py - print the README configuration table from the
# cfg_keys[] rows in filterd/cfg.c (run from the repository root).
import re,sys
src=open('filterd/cfg.c').read()
body=src[src.index('const struct cfg_key cfg_keys[] = {'):src.index('const size_t cfg_nkeys')]
# join C string literal continuations
rows=re.findall(r'\{\s*("(?:[^"\\]|\\.)*")\s*,\s*(CFG_\w+)\s*,\s*("(?:[^"\\]|\\.)*")\s*,\s*(NULL|"(?:[^"\\]|\\.)*")\s*,\s*(NULL|"(?:[^"\\]|\\.)*")\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}',body)
t={'CFG_STR':'string','CFG_INT':'int','CFG_SIZE':'size','CFG_TIME':'time','CFG_BOOL':'bool','CFG_DOUBLE':'number','CFG_ADDR':'host:port','CFG_NETLIST':'networks','CFG_ENUM':'enum'}
print("| key | type | default | range | meaning |")
print("|---|---|---|---|---|")
for name,ty,de,mn,mx,doc in rows:
    u=lambda s: s[1:-1] if s!='NULL' else ''
    d=''.join(re.findall(r'"((?:[^"\\]|\\.)*)"',doc))
    rng = u(mn).replace('|',' \\| ') if ty=='CFG_ENUM' else (f"{u(mn)}..{u(mx)}" if mn!='NULL' or mx!='NULL' else '')
    de=u(de)
    print(f"| `{u(name)}` | {t[ty]} | `{de}` | {rng} | {d} |" if de else f"| `{u(name)}` | {t[ty]} | (empty) | {rng} | {d} |")
