#!/usr/bin/env python3
"""List the source locations of panic calls left in an optimised LLVM IR file.

Used with `ci/nopanic.sh --find`: the no-panic link check says *that* a panic path exists;
this says *where*, by following each call's inlinedAt chain back to the caller's source line.
"""
import re
import sys

ir = open(sys.argv[1]).read()
locs = {}
scopes = {}
files = {}
for m in re.finditer(r'^!(\d+) = (?:distinct )?!DILocation\(line: (\d+), column: \d+, scope: !(\d+)(?:, inlinedAt: !(\d+))?', ir, re.M):
    locs[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
for m in re.finditer(r'^!(\d+) = (?:distinct )?!DI(?:Subprogram|LexicalBlock(?:File)?)\((.*)\)$', ir, re.M):
    body = m.group(2)
    f = re.search(r'file: !(\d+)', body)
    n = re.search(r'(?:linkageName|name): "([^"]+)"', body)
    s = re.search(r'scope: !(\d+)', body)
    scopes[m.group(1)] = (f.group(1) if f else None, n.group(1) if n else None, s.group(1) if s else None)
for m in re.finditer(r'^!(\d+) = !DIFile\(filename: "([^"]+)"', ir, re.M):
    files[m.group(1)] = m.group(2)

def where(scope):
    seen = 0
    while scope in scopes and seen < 50:
        f, name, parent = scopes[scope]
        if f:
            return files.get(f, '?'), name
        scope = parent
        seen += 1
    return '?', None

pat = re.compile(r'call .*@(\S*(?:panic|unwrap_failed|expect_failed|_fail|oob)\S*)\(.*!dbg !(\d+)')
found = 0
for m in pat.finditer(ir):
    callee, loc = m.group(1), m.group(2)
    chain = []
    while loc in locs and len(chain) < 40:
        line, scope, parent = locs[loc]
        f, name = where(scope)
        chain.append(f"{f}:{line}")
        if parent is None:
            break
        loc = parent
    ours = [c for c in chain if not c.startswith("library/")]
    print(f"{callee}\n    " + "\n    ".join(chain[:12]))
    found += 1
print(f"{found} panic call site(s)")
