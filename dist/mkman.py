#!/usr/bin/env python3
# dist/mkman.py - man pages from the tables in the code and dist/man/*.in
#
#   dist/mkman.py OUTDIR      writes OUTDIR/filterd.8, filterctl.1,
#                             filterd.conf.5
#
# One source per fact: the configuration keys (name, type, default, range,
# one-line doc) come from cfg_keys[] in filterd/cfg.c, the filterctl
# subcommands from ctl_cmds[] in filterd/filterctl.c (the same rows print
# `filterd -h` and `filterctl --help`); the prose around them is roff in
# dist/man/NAME.in with @KEYS@ / @COMMANDS@ / @VERSION@ / @DATE@ markers.
# Run from the repository root.
import os, re, sys

def c_strings(s):
    return ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', s)).replace('\\"', '"')

def keys():
    src = open('filterd/cfg.c').read()
    body = src[src.index('const struct cfg_key cfg_keys[] = {'):
               src.index('const size_t cfg_nkeys')]
    rows = re.findall(
        r'\{\s*("(?:[^"\\]|\\.)*")\s*,\s*(CFG_\w+)\s*,\s*("(?:[^"\\]|\\.)*")'
        r'\s*,\s*(NULL|"(?:[^"\\]|\\.)*")\s*,\s*(NULL|"(?:[^"\\]|\\.)*")\s*,'
        r'\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}', body)
    return [(c_strings(n), t, c_strings(d), None if mn == 'NULL' else
             c_strings(mn), None if mx == 'NULL' else c_strings(mx),
             c_strings(doc)) for n, t, d, mn, mx, doc in rows]

def commands():
    src = open('filterd/filterctl.c').read()
    body = src[src.index('ctl_cmds[] = {'):]
    body = body[:body.index('};')]
    return [(c_strings(n), c_strings(h)) for n, h in re.findall(
        r'\{\s*("[^"]*")\s*,\s*\w+\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}',
        body)]

def esc(s):
    s = s.replace('\\', '\\e').replace('-', '\\-')
    return re.sub(r'^([.\'])', r'\\&\1', s)

TYPES = {'CFG_STR': 'string', 'CFG_INT': 'integer', 'CFG_SIZE': 'size',
         'CFG_TIME': 'time', 'CFG_BOOL': 'boolean', 'CFG_DOUBLE': 'number',
         'CFG_ADDR': 'address', 'CFG_NETLIST': 'networks',
         'CFG_ENUM': 'one of'}

def keys_roff():
    out = []
    for n, t, d, mn, mx, doc in keys():
        ty = TYPES[t]
        if t == 'CFG_ENUM':
            ty += ' ' + ', '.join(mn.split('|'))
        elif mn or mx:
            ty += ', %s..%s' % (mn or '', mx or '')
        out += ['.TP', '.B %s' % esc(n),
                '%s (%s; default: %s)' % (esc(doc), esc(ty),
                 '\\(dq%s\\(dq' % esc(d) if d else 'empty')]
    return '\n'.join(out)

def commands_roff():
    out = []
    for n, h in commands():
        syn, _, what = h.partition('  ')
        out += ['.TP', '.B %s' % esc(syn.strip()), esc(what.strip() or syn)]
    return '\n'.join(out)

def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else 'build/man'
    os.makedirs(outdir, exist_ok=True)
    ver = os.environ.get('FILTERD_VERSION', '0.1')
    date = os.environ.get('FILTERD_DATE', '2026-11-27')
    for name in ('filterd.8', 'filterctl.1', 'filterd.conf.5'):
        text = open('dist/man/%s.in' % name).read()
        text = (text.replace('@KEYS@', keys_roff())
                .replace('@COMMANDS@', commands_roff())
                .replace('@VERSION@', ver).replace('@DATE@', date))
        with open(os.path.join(outdir, name), 'w') as f:
            f.write(text)

main()
