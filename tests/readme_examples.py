#!/usr/bin/env python3
"""Build and run every C example in the README.

Usage:
    readme_examples.py README.md --include DIR --lib LIBFILE --workdir DIR
                       [--sanitize LIST] -- CC [CC ARGS...]

Every ```c fenced block that contains `int main` is written to its own file,
compiled with the C compiler meson uses (-std=c11 -Wall -Wextra -Werror
-pthread, the public include directory, and the built library), and run.
The test fails if any block fails to compile, exits non-zero, or runs past
60 seconds, and also when the README has no such block (the README is
meant to carry one). It exits 77 (skip) while README.md does not exist.
"""

import argparse
import os
import re
import subprocess
import sys

SKIP = 77
FENCE_OPEN = re.compile(r"^\s*```\s*c\s*$", re.IGNORECASE)
FENCE_CLOSE = re.compile(r"^\s*```\s*$")
MAIN = re.compile(r"\bint\s+main\s*\(")


def extract_blocks(text):
    """Yield (first line number, code) for each ```c block with int main."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if FENCE_OPEN.match(lines[i]):
            start = i + 1
            j = start
            while j < len(lines) and not FENCE_CLOSE.match(lines[j]):
                j += 1
            code = "\n".join(lines[start:j]) + "\n"
            if MAIN.search(code):
                yield start + 1, code
            i = j + 1
        else:
            i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("readme")
    ap.add_argument("--include", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("cc", nargs="+")
    args = ap.parse_args()

    if not os.path.exists(args.readme):
        print(f"SKIP: {args.readme} does not exist yet")
        return SKIP
    with open(args.readme, encoding="utf-8") as f:
        blocks = list(extract_blocks(f.read()))
    if not blocks:
        print(f"FAIL: {args.readme} has no ```c block with int main")
        return 1

    os.makedirs(args.workdir, exist_ok=True)
    libdir = os.path.dirname(os.path.abspath(args.lib))
    extra = []
    if args.sanitize and args.sanitize != "none":
        extra.append("-fsanitize=" + args.sanitize)
    failed = 0
    for n, (line, code) in enumerate(blocks):
        src = os.path.join(args.workdir, f"readme_example_{n}.c")
        exe = os.path.join(args.workdir, f"readme_example_{n}")
        with open(src, "w", encoding="utf-8") as f:
            f.write(f"#line {line} \"{os.path.basename(args.readme)}\"\n")
            f.write(code)
        cmd = list(args.cc) + [
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread",
            "-I", args.include, src, "-o", exe, args.lib,
            "-Wl,-rpath," + libdir,
        ] + extra
        print(f"example {n} (README line {line}):", " ".join(cmd))
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            print(r.stdout)
            print(f"FAIL: example {n} (README line {line}) does not compile")
            failed += 1
            continue
        try:
            r = subprocess.run([exe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            print(f"FAIL: example {n} (README line {line}) ran past 60 s")
            failed += 1
            continue
        print(r.stdout, end="")
        if r.returncode != 0:
            print(f"FAIL: example {n} (README line {line}) exited {r.returncode}")
            failed += 1
        else:
            print(f"ok example {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
