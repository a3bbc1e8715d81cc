#!/usr/bin/env python3
"""Worst-case stack depth of a call tree in an ARM (Thumb) or x86-64 ELF.

Usage: stack-depth.py ELF ENTRY_SYMBOL
Frame sizes come from the `.stack_sizes` section that `-Z emit-stack-sizes` makes LLVM emit
(`llvm-readobj --stack-sizes`); call edges come from `bl`/`blx`/`b`/`b.w` instructions whose
target is the start of a function (`llvm-objdump -d`); on x86-64 from `call` and (tail-call)
jumps, and each call level adds the 8-byte return address LLVM's frame sizes leave out (build
with `-C jump-tables=no` so that every indirect jump is a call, and non-PIE so the GOT holds
final addresses): calls through a GOT slot (`call *slot(%rip)`, or a register loaded from one,
as rustc emits for memcpy and friends) are resolved to the slot's function. Recursion or any
other indirect call makes the bound unknown and is reported as an error. Functions without a recorded frame (the
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
x86 = "elf64-x86-64" in dis
if x86:
    direct = re.compile(r"\s(callq?|j[a-z]{1,3}q?)\s+0x[0-9a-f]+ <([^>+]+)>")
    indirect_call = re.compile(r"\s(callq?|jmpq?)\s+\*")
    RETURN_ADDRESS = 8
    # GOT slot address -> function name, from the .got contents and the function addresses.
    at = {int(a, 16): n for a, n in re.findall(r"^([0-9a-f]+) <(.+)>:$", dis, re.M)}
    got_dump = subprocess.check_output([tool("llvm-objdump"), "-s", "-j", ".got", elf], text=True)
    got = {}
    for m in re.finditer(r"^ ([0-9a-f]+) ((?:[0-9a-f]{8} ?){1,4})", got_dump, re.M):
        words = bytes.fromhex(m.group(2).replace(" ", ""))
        for i in range(0, len(words) - 7, 8):
            target = int.from_bytes(words[i:i + 8], "little")
            if target in at:
                got[int(m.group(1), 16) + i] = at[target]
    got_load = re.compile(r"\smovq\s+-?0x[0-9a-f]+\(%rip\), %(\w+)\s+# 0x([0-9a-f]+)")
    got_call = re.compile(r"\s(callq?|jmpq?)\s+\*-?0x[0-9a-f]+\(%rip\)\s+# 0x([0-9a-f]+)")
    reg_call = re.compile(r"\s(callq?|jmpq?)\s+\*%(\w+)\s*$")
    dest_reg = re.compile(r",\s*%(\w+)\s*(#.*)?$")
    reg_move = re.compile(r"\smovq\s+%(\w+), %(\w+)\s*$")
    def reg64(r):
        r = r.rstrip("dwb") if re.match(r"r\d+[dwb]$", r) else r
        return {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi",
                "edi": "rdi", "ebp": "rbp", "esp": "rsp"}.get(r, r)
    loaded = {}
else:
    direct = re.compile(r"\s(bl|blx|b|b\.w)\s+0x[0-9a-f]+ <([^>+]+)>")
    indirect_call = re.compile(r"\sblx\s+r\d+|\sbx\s+r(?!14)\d+")
    RETURN_ADDRESS = 0
for line in dis.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
    if m:
        current = m.group(1)
        calls.setdefault(current, set())
        if x86:
            loaded = {}
        continue
    if current is None:
        continue
    if x86:
        g = got_call.search(line) or reg_call.search(line)
        if g:
            slot = int(g.group(2), 16) if g.re is got_call else loaded.get(reg64(g.group(2)))
            if slot in got:
                if got[slot] != current:
                    calls[current].add(got[slot])
                continue
        g = got_load.search(line)
        r = reg_move.search(line)
        if g:
            loaded[reg64(g.group(1))] = int(g.group(2), 16)
        elif r and reg64(r.group(1)) in loaded:
            loaded[reg64(r.group(2))] = loaded[reg64(r.group(1))]
        else:
            d = dest_reg.search(line)
            if d:
                loaded.pop(reg64(d.group(1)), None)
    m = direct.search(line)
    if m and m.group(2) != current:
        calls[current].add(m.group(2))
    if indirect_call.search(line):
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
    own = frames.get(fn, UNKNOWN_FRAME) + RETURN_ADDRESS
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
    print(f"  {frames.get(fn, UNKNOWN_FRAME) + RETURN_ADDRESS:6d}  {fn[:110]}{known}")
    fn = path_of.get(fn)
