"""DEST as a backup left it, read from what tests/vm/guest/dest-dump.sh printed in the guest
(where DEST is mounted; the host has no mount): shared by verify-dest-fs.py and
verify-power.py.

parse(text) -> {"files": [{path, size, sha256}], "hidden", "temps", "links", "intent_bytes",
"missing", "manifest": {"files": [(serial, path, dest, hash, outcome)], "contents": [(dest,
hash)]} or {"error"} or absent}, where files are the visible files (no dot-named level),
hidden every other file except mtpull's own state (`.mtpull/manifest.sqlite3*`, `lock`,
`intent`), temps the files in `.mtpull/tmp`, links any symbolic link.
"""

STATE = ".mtpull"
STATE_FILES = {"manifest.sqlite3", "manifest.sqlite3-journal", "lock", "intent"}


def parse(text):
    listing = {"files": [], "hidden": [], "temps": [], "links": [], "intent_bytes": 0,
               "missing": False}
    entries, sums, rows, contents, error = [], {}, [], [], None
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "missing":
            listing["missing"] = True
        elif fields[0] == "entry":
            entries.append((fields[1], int(fields[2]), fields[3]))
        elif fields[0] == "row":
            rows.append(tuple(fields[1:]))
        elif fields[0] == "content":
            contents.append(tuple(fields[1:]))
        elif fields[0] == "manifest-error":
            error = "sqlite3 could not read the manifest"
        elif "  ./" in line:
            digest, path = line.split("  ./", 1)
            sums[path] = digest
    for kind, size, path in sorted(entries, key=lambda e: e[2]):
        parts = path.split("/")
        if kind == "l":
            listing["links"].append(path)
        elif parts[0].lower() == STATE:
            if len(parts) == 3 and parts[1] == "tmp":
                listing["temps"].append(path)
            elif len(parts) == 2 and parts[1] in STATE_FILES:
                if parts[1] == "intent":
                    listing["intent_bytes"] = size
            else:
                listing["hidden"].append(path)
        elif kind != "f" or any(part.startswith(".") for part in parts):
            listing["hidden"].append(path)
        else:
            listing["files"].append({"path": path, "size": size, "sha256": sums.get(path)})
    if error:
        listing["manifest"] = {"error": error}
    elif rows or contents:
        listing["manifest"] = {"files": sorted(rows, key=lambda r: r[2]), "contents": sorted(contents)}
    return listing
