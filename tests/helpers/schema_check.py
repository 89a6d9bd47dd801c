#!/usr/bin/env python3
"""Checks sluice's JSON Schema (sluiced --schema) against the files that use it.

  schema_check.py SCHEMA examples FILE...    every YAML example in each FILE (a .yaml
                                             file whole, README.md's ```yaml blocks,
                                             a man page's .EX blocks) is valid
  schema_check.py SCHEMA invalid FILE...     each FILE is NOT valid (prints why)
  schema_check.py SCHEMA manpage FILE        the man page's key reference and the
                                             schema name the same keys

A README example that is a fragment is checked as what it is: a mapping against
the top level (without its required keys), a list's entries each against a
source, a stage or a sink.
"""
import copy
import json
import re
import shlex
import sys

import jsonschema
import yaml


def roff_text(s):
    for a, b in ((r"\-", "-"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\(ti", "~"),
                 (r"\(rs", "\\"), (r"\&", ""), (r"\e", "\\")):
        s = s.replace(a, b)
    return s


def examples(path):
    """(where, text) of every YAML example in path."""
    text = open(path, encoding="utf-8").read()
    if path.endswith((".yaml", ".yml")):
        return [(path, text)]
    if path.endswith(".md"):
        out = []
        for m in re.finditer(r"^```yaml\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, m.start()) + 1
            out.append((f"{path}:{line}", m.group(1)))
        return out
    out = []
    for m in re.finditer(r"^\.EX\n(.*?)^\.EE", text, re.S | re.M):
        line = text.count("\n", 0, m.start()) + 1
        out.append((f"{path}:{line}", roff_text(m.group(1))))
    return out


def validators(schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    whole = jsonschema.Draft202012Validator(schema)
    partial = copy.deepcopy(schema)
    partial.pop("required", None)
    part = jsonschema.Draft202012Validator(partial)
    entries = {}
    for kind in ("source", "stage", "sink"):
        s = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}
        entries[kind] = jsonschema.Draft202012Validator(s)
    return whole, part, entries


def problems(doc, whole, part, entries):
    """Why doc is invalid (empty: it is valid); None: it is not a config example."""
    if isinstance(doc, dict) and ("sources" in doc or "sinks" in doc):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in whole.iter_errors(doc)]
    if isinstance(doc, dict) and set(doc) & set(part.schema["properties"]):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in part.iter_errors(doc)]
    if isinstance(doc, list) and doc and all(isinstance(d, dict) for d in doc):
        out = []
        for i, d in enumerate(doc):
            why = {k: [e.message for e in v.iter_errors(d)] for k, v in entries.items()}
            if all(why.values()):
                out.append(f"entry {i + 1} is no source, stage or sink: " +
                           "; ".join(f"as a {k}: {w[0]}" for k, w in why.items()))
        return out
    return None


def keys_and_values(schema):
    """Every key name of the schema, and every enum value (kinds included)."""
    keys, values = set(), set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.get("properties", {}).items():
                keys.add(k)
            for v in node.get("enum", []):
                values.add(v)
            if "const" in node and isinstance(node["const"], str):
                values.add(node["const"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(schema)
    return keys, values


def bold_words(line):
    """The bold words of a roff line: .B WORDS, or the odd arguments of .BR/.BI."""
    m = re.match(r"^\.(B|BR|BI|IB|RB)\s+(.*)$", line)
    if not m:
        return []
    try:
        args = shlex.split(roff_text(m.group(2)))
    except ValueError:
        return []
    if m.group(1) == "B":
        bold = args
    elif m.group(1) in ("BR", "BI"):
        bold = args[0::2]
    else:
        bold = args[1::2]
    return [w.rstrip(":") for w in bold]


def manpage(schema, path):
    keys, values = keys_and_values(schema)
    lines = open(path, encoding="utf-8").read().split("\n")
    start = lines.index(".SH TOP-LEVEL KEYS")
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == ".SH ITEMS")
    ref = lines[start:end]
    bold, documented = set(), []
    for i, line in enumerate(ref):
        words = bold_words(line)
        bold.update(words)
        # A definition (".TP" then the term) or an inline one ("KEY" then "(...").
        after = ref[i + 1] if i + 1 < len(ref) else ""
        inline = line.startswith(".B ") and (after.startswith("(") or after.startswith(".RB ("))
        if (i > 0 and ref[i - 1] == ".TP") or inline:
            documented += [(start + i + 1, w) for w in words if re.fullmatch(r"[a-z_]+", w)]
    bad = 0
    for k in sorted(keys - bold):
        print(f"{path}: key '{k}' of the schema is not documented in the key reference")
        bad += 1
    for line, w in documented:
        if w not in keys and w not in values:
            print(f"{path}:{line}: '{w}' is documented as a key but the schema has no such key")
            bad += 1
    print(f"{path}: {len(keys)} keys in the schema, {len(documented)} documented terms")
    return bad


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    mode, files = sys.argv[2], sys.argv[3:]
    whole, part, entries = validators(schema)
    bad = 0
    if mode == "manpage":
        return 1 if manpage(schema, files[0]) else 0
    for path in files:
        for where, text in examples(path):
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as e:
                print(f"{where}: not YAML: {e}".replace("\n", " "))
                bad += mode == "examples"
                continue
            why = problems(doc, whole, part, entries)
            if why is None:
                continue
            if mode == "examples":
                for w in why:
                    print(f"{where}: {w}")
                bad += bool(why)
                print(f"{where}: {'valid' if not why else 'INVALID'}")
            else:
                print(f"{where}: {'; '.join(why) if why else 'VALID'}")
                bad += not why
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
