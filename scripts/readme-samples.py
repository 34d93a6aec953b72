#!/usr/bin/env python3
"""Keeps the README's code samples for app developers the very code the shell tests compile and run.

A sample in a source file sits between `// README:begin NAME` and `// README:end NAME`; in README.md,
the fenced block right after `<!-- sample: NAME -->` must be that code, dedented. Without arguments this
checks and fails (exit 1) on any difference or missing sample; with --write it rewrites README.md's
blocks from the sources. To add a sample: mark it in a test source under android/src/test or ios/Tests,
and put `<!-- sample: NAME -->` and an empty fenced block in the README, then run with --write.
"""
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "android/src/test", ROOT / "ios/Tests"]
README = ROOT / "README.md"


def samples():
    found = {}
    for folder in SOURCES:
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".kt", ".swift"):
                continue
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r"^[ \t]*// README:begin (\S+)\n(.*?)^[ \t]*// README:end \1$", text, re.M | re.S):
                if m.group(1) in found:
                    sys.exit(f"readme-samples: sample {m.group(1)} is marked twice")
                found[m.group(1)] = textwrap.dedent(m.group(2)).rstrip("\n")
    return found


def main():
    write = sys.argv[1:] == ["--write"]
    code = samples()
    readme = README.read_text(encoding="utf-8")
    block = re.compile(r"(<!-- sample: (\S+) -->\n```(\w*)\n)(.*?)(\n?```)", re.S)
    problems = []
    used = set()

    def replace(m):
        name = m.group(2)
        used.add(name)
        if name not in code:
            problems.append(f"README.md shows sample {name}, which no test source marks")
            return m.group(0)
        if m.group(4).rstrip("\n") != code[name]:
            problems.append(f"README.md's sample {name} differs from its source")
        return m.group(1) + code[name] + "\n```"

    updated = block.sub(replace, readme)
    for name in sorted(set(code) - used):
        problems.append(f"sample {name} is marked in a source but not shown in README.md")
    if write:
        README.write_text(updated, encoding="utf-8")
        problems = [p for p in problems if "differs" not in p]
    for p in problems:
        print(f"readme-samples: {p} (python3 scripts/readme-samples.py --write updates the README)", file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
