#!/usr/bin/env python3
"""Import circles between the source files of crates/wegate: prints each strongly connected component of
the file graph (an edge = a `crate::`/`super::`/`self::` path naming another file's module) and exits 1 when
one spans more than MAX files. Usage: module-cycles.py [src dir] [max]"""
import os, re, sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "crates", "wegate", "src")
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 4
src = os.path.normpath(src)

modules = {}  # module path tuple -> file
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(root, f), src)
        parts = rel[:-3].split(os.sep)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        modules[tuple(parts)] = rel

def strip_tests(text):
    # drop `#[cfg(test)] mod tests { ... }` blocks: test-only imports do not make layers
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)

def expand_use(text):
    # `use crate::a::{b, c::{d}}` -> crate::a::b, crate::a::c::d (enough for resolution)
    paths = []
    for m in re.finditer(r"\buse\s+((?:crate|super|self)(?:::\w+)*)::\{", text):
        base, j, depth, start = m.group(1), m.end(), 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        inner = text[start:j - 1]
        for item in re.findall(r"(\w+(?:::\w+)*)", re.sub(r"\{[^{}]*\}", "", inner)):
            paths.append(base + "::" + item)
    return paths

def resolve(path, here):
    parts = path.split("::")
    if parts[0] == "crate":
        base, parts = [], parts[1:]
    else:
        base = list(here)
        while parts and parts[0] in ("super", "self"):
            if parts[0] == "super":
                base = base[:-1]
            parts = parts[1:]
    cand = tuple(base + parts)
    while cand and cand not in modules:
        cand = cand[:-1]
    return cand if cand in modules else None

edges = {}
for mod, rel in modules.items():
    text = strip_tests(open(os.path.join(src, rel), encoding="utf-8").read())
    text = re.sub(r"//[^\n]*", "", text)
    here = mod if rel.endswith(("mod.rs", "lib.rs")) or not mod else mod
    # a file `a/b.rs` is module a::b; `super` is a, `self` is a::b
    paths = re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", text) + expand_use(text)
    # bare paths to a child module (`callback::page` inside connectors/mod.rs)
    for name in set(re.findall(r"(?<![\w:])(\w+)::", text)):
        if tuple(list(here) + [name]) in modules:
            paths.append("self::" + name)
    targets = set()
    for p in paths:
        t = resolve(p, here)
        if t is not None and t != mod and modules[t] != rel:
            targets.add(modules[t])
    # a parent module file that declares children is not an import of them
    edges[rel] = targets

# Tarjan's strongly connected components
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        strong(v)
worst = 0
for comp in sorted(sccs, key=len, reverse=True):
    if len(comp) > 1:
        print(f"circle of {len(comp)} files: {' '.join(sorted(comp))}")
        worst = max(worst, len(comp))
print(f"largest import circle: {worst} files (limit {limit})")
sys.exit(1 if worst > limit else 0)
