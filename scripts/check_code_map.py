#!/usr/bin/env python3
"""Check that every file or folder ARCHITECTURE.md names exists in the tree.

Why: the code map is only useful while it is true; a split or a rename that forgets the map
leaves a newcomer looking for a room that is not there. Run from the repository root:
`scripts/check_code_map.py [ARCHITECTURE.md]`. A name in backticks that looks like a path
(ends in `.rs`, `.md`, `.json`, `.toml`, `.sql` or `/`) is looked up, in this order: from the
repository root, in the current section's crate (`src/` and the crate folder), and under
`src/` of a module the section named just before it (so `mod.rs` after `read/` is
`read/mod.rs`); last, as the end of a path anywhere in the section's crate, then (outside a crate's
section) in the tree (`cli/demo.rs` named as `demo.rs`). Exit status 1 when one is missing.
"""
import os
import re
import sys

DOC = sys.argv[1] if len(sys.argv) > 1 else "ARCHITECTURE.md"
# Files the program reads or writes at run time, named in the map but not part of the tree.
RUNTIME = {
    "environment.toml": "the operator's environment file",
    "manifest.json": "written beside every backup",
}
PATHLIKE = re.compile(r"^[\w./-]+(\.rs|\.md|\.json|\.toml|\.sql|/)$")
import subprocess

FILES = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
DIRS = {f.rsplit("/", i)[0] + "/" for f in FILES for i in range(1, f.count("/") + 1)}
ALL = set(FILES) | DIRS


def suffix(tok, under=""):
    """Some path in the tree below `under` that ends in `/tok`."""
    return next((f for f in ALL if f.startswith(under) and f.endswith("/" + tok)), None)


text = open(DOC, encoding="utf-8").read()
crate = None
context = []  # folders named recently in this section, most recent first
missing = []
checked = 0
for n, line in enumerate(text.split("\n"), 1):
    h = re.match(r"^#{2,3} .*?`(crates/[\w-]+)`", line)
    if line.startswith("#"):
        crate = h.group(1) if h else None
        context = []
    for tok in re.findall(r"`([^`\s]+)`", line):
        tok = tok.split("::")[0]
        if not PATHLIKE.match(tok) or tok.startswith("../") or tok in RUNTIME:
            continue
        checked += 1
        bases = [""]
        if crate:
            bases += [f"{crate}/src/", f"{crate}/"]
            bases += [f"{crate}/src/{c}" for c in context]
        bases += ["crates/"]
        found = next((b + tok for b in bases if os.path.exists(b + tok)), None)
        if found is None and crate:
            found = suffix(tok, crate + "/")
        if found is None and not crate:
            found = suffix(tok)
        if found is None:
            missing.append(f"{DOC}:{n}: `{tok}` (section crate: {crate})")
        elif tok.endswith("/"):
            rel = found.split("/src/", 1)[-1] if "/src/" in found else tok
            context.insert(0, rel)
            del context[4:]
for m in missing:
    print(m)
print(f"{checked} paths named, {len(missing)} missing")
sys.exit(1 if missing else 0)
