#!/usr/bin/env python3
"""Find import loops between the files of one crate.

Why: ARCHITECTURE.md states that inside `crates/server` no import loop spans more than two
files (a pair where it is natural). This script reads every `use crate::...` (and
`crate::a::b` paths in the code) of a crate, maps them to files, and prints every strongly
connected component of more than MAX files. Exit status 1 when one is found.

Usage: scripts/import_loops.py [CRATE_SRC_DIR] [MAX]   (default crates/server/src 2)
"""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else "crates/server/src"
MAX = int(sys.argv[2]) if len(sys.argv) > 2 else 2


def module_of(path):
    rel = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


files = {}
for root, _, names in os.walk(SRC):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(root, n)
            files[module_of(p)] = p


def resolve(parts):
    """The file a `crate::a::b::c` path lands in: its longest prefix that is a module."""
    for k in range(len(parts), 0, -1):
        if tuple(parts[:k]) in files:
            return tuple(parts[:k])
    return None


def expand(text):
    """Every `crate::...` path, with `{a, b::c}` groups expanded (one level of nesting is
    enough for the targets: the module prefix)."""
    out = []
    for m in re.finditer(r"\bcrate((?:::\w+)+)(::\{([^;]*?)\})?", text, re.S):
        base = [p for p in m.group(1).split("::") if p]
        out.append(base)
        if m.group(3):
            for item in re.split(r",", m.group(3)):
                item = item.strip().lstrip("{").strip()
                if item:
                    out.append(base + [p for p in item.split("::") if p and p != "self"])
    return out


graph = {m: set() for m in files}
for mod, path in files.items():
    text = open(path, encoding="utf-8").read()
    # test modules are not production imports
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests\s*\{", text)[0]
    for parts in expand(text):
        target = resolve(parts)
        if target is not None and target != mod:
            graph[mod].add(target)
    # `super::x` from a file: resolve against the parent module
    for m in re.finditer(r"\bsuper((?:::\w+)+)", text):
        parent = list(mod[:-1]) if not path.endswith("mod.rs") else list(mod[:-1])
        parts = parent + [p for p in m.group(1).split("::") if p]
        target = resolve(parts)
        if target is not None and target != mod:
            graph[mod].add(target)

# Tarjan's strongly connected components
index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in graph[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        comps.append(comp)


for v in graph:
    if v not in index:
        strong(v)

# a parent module's file (`mod.rs`/`lib.rs`) declares its children: that edge is not a loop
bad = [c for c in comps if len(c) > MAX]
for c in bad:
    print(f"loop of {len(c)} files:")
    for m in sorted(c):
        deps = sorted("::".join(t) or "crate" for t in graph[m] if t in c)
        print(f"  {files[m]} -> {', '.join(deps)}")
print(f"{len(files)} files, {len(bad)} loop(s) of more than {MAX} files")
sys.exit(1 if bad else 0)
