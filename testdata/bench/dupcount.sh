#!/usr/bin/env bash
# dupcount.sh REV — the `duplicates` pair count of the tree at git revision
# REV, twice: "raw" (the tool as it is) and "noimp" (the same tree with each
# Go `import ( … )` block rewritten as single-line `import "x"` lines). The
# tool's README says import lines are passed over, but it counts the lines
# inside parenthesised import blocks; "noimp" is the count it describes.
# MOST=N lists the first N noimp pairs. Needs the `duplicates` command.
set -euo pipefail
rev=${1:?usage: dupcount.sh REV}
repo=$(git rev-parse --show-toplevel)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/raw" "$d/noimp"
git -C "$repo" archive "$rev" | tar -xf - -C "$d/raw"
cp -r "$d/raw/." "$d/noimp/"
python3 - "$d/noimp" <<'PY'
import os, re, sys
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if not f.endswith('.go'):
            continue
        p = os.path.join(root, f)
        s = open(p, encoding='utf-8', errors='surrogateescape').read()
        def one_per_line(m):
            return '\n'.join('import ' + l.strip() for l in m.group(1).split('\n')
                             if l.strip() and not l.strip().startswith('//'))
        s2, n = re.subn(r'(?m)^import \(\n(.*?)\n\)', one_per_line, s, flags=re.S)
        if n:
            open(p, 'w', encoding='utf-8', errors='surrogateescape').write(s2)
PY
echo "raw:   $(duplicates --repo "$d/raw" --seconds 180 --most 1 | head -1)"
if [ -n "${MOST:-}" ]; then
  echo "noimp:"; duplicates --repo "$d/noimp" --seconds 180 --most "$MOST" | sed "s#$d/noimp/##g"
else
  echo "noimp: $(duplicates --repo "$d/noimp" --seconds 180 --most 1 | head -1)"
fi
