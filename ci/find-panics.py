#!/usr/bin/env python3
"""List the panic call sites left in an optimised LLVM IR file, and who owns each.

Used by ci/nopanic.sh on the full core (ci/nopanic built with `--features full` and debug line
tables). For each call to a panic function, the inlinedAt chain gives the source lines from the
panic outwards; the owner of the site is the first frame outside the Rust standard library:
a crate from the registry (a third-party primitive), or our own code.

    find-panics.py IR                  list the sites, then a count per owner
    find-panics.py IR --check BASELINE also fail (exit 1) if any site is in our code, or if a
                                       crate has more sites than BASELINE allows (lines
                                       "crate count"; a crate missing from it allows none)
"""
import re
import sys
from collections import Counter

args = sys.argv[1:]
check = None
if "--check" in args:
    at = args.index("--check")
    check = args[at + 1]
    del args[at:at + 2]
if len(args) != 1:
    sys.exit("usage: find-panics.py IR [--check BASELINE] (exactly one IR file)")
ir = open(args[0]).read()

locs = {}
scopes = {}
files = {}
for m in re.finditer(r'^!(\d+) = (?:distinct )?!DILocation\(line: (\d+), column: \d+, scope: !(\d+)(?:, inlinedAt: !(\d+))?', ir, re.M):
    locs[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
for m in re.finditer(r'^!(\d+) = (?:distinct )?!DI(?:Subprogram|LexicalBlock(?:File)?)\((.*)\)$', ir, re.M):
    body = m.group(2)
    f = re.search(r'file: !(\d+)', body)
    s = re.search(r'scope: !(\d+)', body)
    scopes[m.group(1)] = (f.group(1) if f else None, s.group(1) if s else None)
for m in re.finditer(r'^!(\d+) = !DIFile\(filename: "([^"]+)", directory: "([^"]*)"', ir, re.M):
    name, directory = m.group(2), m.group(3)
    files[m.group(1)] = name if name.startswith("/") else f"{directory}/{name}"


def where(scope):
    seen = 0
    while scope in scopes and seen < 50:
        f, parent = scopes[scope]
        if f:
            return files.get(f, '?')
        scope = parent
        seen += 1
    return '?'


REGISTRY = re.compile(r'/registry/src/[^/]+/([A-Za-z0-9_.-]+?)-(\d+\.\d+\.\d+[^/]*)/(.*)$')
STD = re.compile(r'(^|/)library/(core|alloc|std|compiler-builtins)/|/rustc/')


def owner(path):
    """('std', path), (crate, short path) for a registry crate, or ('ours', path)."""
    if STD.search(path):
        return 'std', path
    m = REGISTRY.search(path)
    if m:
        return m.group(1), f"{m.group(1)}-{m.group(2)}/{m.group(3)}"
    return 'ours', re.sub(r'^.*?/(core|ci)/', r'\1/', path)


def demangle(symbol):
    """A short readable name for a mangled function (legacy or v0), good enough for listings."""
    parts = re.findall(r'(?:^_ZN|\d)(\d+)([A-Za-z_][A-Za-z0-9_$.]*)', symbol)
    names = []
    for m in re.finditer(r'(\d+)([A-Za-z_][A-Za-z0-9_]*)', symbol):
        n, text = int(m.group(1)), m.group(2)
        names.append(text[:n])
    keep = [n for n in names if n and not re.fullmatch(r'h[0-9a-f]{16}|[A-Z][a-z0-9]?', n)]
    return "::".join(keep[-3:]) if keep else symbol


def symbol_crate(symbol):
    """The crate a mangled function belongs to (for sites without a source line)."""
    m = re.match(r'_ZN\d+(\w+?)\d', symbol) or re.search(r'C[a-zA-Z0-9]*_\d+([a-z][a-z0-9_]*)', symbol)
    name = m.group(1).replace('_', '-') if m else 'ours'
    return 'ours' if name.startswith('csc-') else name


# Calls to the panic machinery (core::panicking::*, slice/index failures, unwrap/expect
# failures), not to functions of ours whose names merely contain "panic".
pat = re.compile(r'call .*@(\S*(?:panicking|panic_|unwrap_failed|expect_failed|_fail|oob)\S*)\(.*!dbg !(\d+)')
define = re.compile(r'^define .*@(\S+)\(')
counts = Counter()
ours = []
function = '?'
for text in ir.splitlines():
    d = define.match(text)
    if d:
        function = d.group(1)
        continue
    m = pat.search(text)
    if not m or 'csc_nopanic' in m.group(1):
        continue
    callee, loc = m.group(1), m.group(2)
    chain = []
    while loc in locs and len(chain) < 40:
        line, scope, parent = locs[loc]
        chain.append(f"{where(scope)}:{line}")
        if parent is None:
            break
        loc = parent
    site_owner, site = None, None
    for frame in chain:
        path, _, line = frame.rpartition(':')
        o, short = owner(path)
        if o != 'std':
            site_owner, site = o, f"{short}:{line}"
            break
    if site_owner is None:
        # Only standard-library frames: the panic machinery calling itself (panic_fmt from
        # panic_bounds_check, ...), reached only through a site counted where it is called.
        if re.search(r'4core(9panicking|6result|6option|5slice|3str|5array|3fmt|4cell)', function):
            continue
        site_owner, site = symbol_crate(function), f"{function} (no source line)"
    counts[site_owner] += 1
    if site_owner == 'ours':
        ours.append(site)
    outer = [owner(f.rpartition(':')[0]) for f in chain]
    caller = next((f"{p}:{c.rpartition(':')[2]}" for (o, p), c in zip(outer, chain) if o == 'ours'), '?')
    print(f"{site_owner:14} {site}\n{'':14} from {caller} in {demangle(function)}  ({callee})")

total = sum(counts.values())
print(f"{total} panic call site(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

if check:
    allowed = {}
    for line in open(check):
        line = line.split('#', 1)[0].split()
        if len(line) == 2:
            allowed[line[0]] = int(line[1])
    bad = []
    if counts.get('ours'):
        bad.append(f"{counts['ours']} panic site(s) in our own code: " + "; ".join(ours))
    for crate, n in sorted(counts.items()):
        if crate != 'ours' and n > allowed.get(crate, 0):
            bad.append(f"{crate}: {n} panic site(s), {allowed.get(crate, 0)} allowed by {check}")
    if bad:
        print("FAIL: " + "\nFAIL: ".join(bad), file=sys.stderr)
        sys.exit(1)
    print(f"panic sites within {check}")
