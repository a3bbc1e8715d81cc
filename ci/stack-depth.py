#!/usr/bin/env python3
"""Worst-case stack depth of a call tree in an ARM (Thumb) ELF.

Usage: stack-depth.py ELF ENTRY_SYMBOL
Frame sizes come from the `.stack_sizes` section that `-Z emit-stack-sizes` makes LLVM emit
(`llvm-readobj --stack-sizes`); call edges come from `bl`/`blx`/`b`/`b.w` instructions whose
target is the start of a function (`llvm-objdump -d`). Recursion or an indirect call makes
the bound unknown and is reported as an error. Functions without a recorded frame (the
precompiled compiler-builtins such as memcpy) count as UNKNOWN_FRAME bytes each.
"""
import re
import subprocess
import sys
import glob
import os

UNKNOWN_FRAME = 32

def tool(name):
    sysroot = subprocess.check_output(["rustc", "--print", "sysroot"], text=True).strip()
    found = glob.glob(os.path.join(sysroot, "lib/rustlib/*/bin", name))
    if not found:
        sys.exit(f"{name} not found (rustup component add llvm-tools)")
    return found[0]

elf, entry = sys.argv[1], sys.argv[2]
frames = {}
readobj = subprocess.check_output([tool("llvm-readobj"), "--stack-sizes", elf], text=True)
for m in re.finditer(r"Functions: \[([^\]]+)\]\s*\n\s*Size: (0x[0-9A-Fa-f]+)", readobj):
    for name in m.group(1).split(","):
        frames[name.strip()] = int(m.group(2), 16)

calls = {}
indirect = set()
current = None
dis = subprocess.check_output([tool("llvm-objdump"), "-d", "--no-show-raw-insn", elf], text=True)
for line in dis.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
    if m:
        current = m.group(1)
        calls.setdefault(current, set())
        continue
    if current is None:
        continue
    m = re.search(r"\s(bl|blx|b|b\.w)\s+0x[0-9a-f]+ <([^>+]+)>", line)
    if m and m.group(2) != current:
        calls[current].add(m.group(2))
    if re.search(r"\sblx\s+r\d+", line) or re.search(r"\sbx\s+r(?!14)\d+", line):
        indirect.add(current)

best = {}
path_of = {}

def depth(fn, stack):
    if fn in stack:
        sys.exit(f"recursion through {fn}: stack depth is unbounded")
    if fn in best:
        return best[fn]
    if fn in indirect:
        sys.exit(f"indirect call in {fn}: stack depth cannot be bounded from the call graph")
    own = frames.get(fn, UNKNOWN_FRAME)
    deepest, via = 0, None
    for callee in calls.get(fn, ()):
        d = depth(callee, stack | {fn})
        if d > deepest:
            deepest, via = d, callee
    best[fn] = own + deepest
    path_of[fn] = via
    return best[fn]

total = depth(entry, frozenset())
print(f"worst-case stack from {entry}: {total} bytes")
fn = entry
while fn:
    known = "" if fn in frames else " (no frame record; counted as %d)" % UNKNOWN_FRAME
    name = re.sub(r"^_R\w*?(\d+[a-z_]\w*)$", r"\1", fn)
    print(f"  {frames.get(fn, UNKNOWN_FRAME):6d}  {fn[:110]}{known}")
    fn = path_of.get(fn)
