#!/usr/bin/env python3
"""promparse.py: a strict parser for the Prometheus text exposition format 0.0.4.

  promparse.py check FILE         validate; prints "N families, M samples"
  promparse.py get FILE NAME [LABEL=VALUE...]
                                  validate, then print the value of the one sample
                                  NAME{LABELS} (exit 1 if there is none)
  promparse.py selftest           the parser rejects what it must reject

FILE may be "-" for stdin. Exit 1 with "promparse: LINE: message" on the first
violation. What is checked:
  * every line is a comment ("# HELP name text", "# TYPE name type", or any other
    "# ..."), empty, or a sample `name{label="value",...} value [timestamp]`
    with valid metric and label names, label values escaped only as \\\\, \\" and
    \\n, a float value (NaN, +Inf, -Inf allowed) and an integer timestamp;
  * the text ends with a newline;
  * TYPE (at most one per family, a known type) comes before the family's
    samples, HELP at most once; a family's lines are one contiguous group;
  * no sample name+labels appears twice; no label name twice in one sample;
  * counters are not negative; a histogram has, per label set, _bucket samples
    with strictly increasing `le`, cumulative (non-decreasing) counts, the last
    at le="+Inf" and equal to _count, and a _sum; a summary has _sum and _count.
"""
import math
import re
import sys

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ParseError(Exception):
    pass


def parse_float(s, where):
    if s in ("NaN", "Nan", "nan"):
        return math.nan
    if s in ("+Inf", "Inf", "+inf", "inf"):
        return math.inf
    if s in ("-Inf", "-inf"):
        return -math.inf
    if not re.fullmatch(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)", s):
        raise ParseError("%s: '%s' is not a number" % (where, s))
    return float(s)


def parse_labels(s, i, lineno):
    """s[i] is just after '{'. Returns (labels dict, index after '}')."""
    labels = {}
    while True:
        if i < len(s) and s[i] == "}":
            return labels, i + 1
        m = LABEL_RE.match(s, i)
        if not m:
            raise ParseError("%d: bad label name at column %d" % (lineno, i + 1))
        name = m.group(0)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ParseError("%d: expected '=\"' after label %s" % (lineno, name))
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ParseError("%d: unterminated label value" % lineno)
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    raise ParseError("%d: bad escape in label value of %s" % (lineno, name))
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ParseError("%d: newline in label value" % lineno)
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise ParseError("%d: label %s given twice" % (lineno, name))
        labels[name] = "".join(val)
        if i < len(s) and s[i] == ",":
            i += 1
        elif i < len(s) and s[i] == "}":
            pass
        else:
            raise ParseError("%d: expected ',' or '}' after label %s" % (lineno, name))


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                if suffix == "_bucket" and types[base] != "histogram":
                    continue
                return base
    return name


def parse(text):
    if text and not text.endswith("\n"):
        raise ParseError("the text does not end with a newline")
    types, helps, samples = {}, set(), []
    seen_series = set()
    done_families, current = set(), None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not NAME_RE.fullmatch(parts[2]):
                    raise ParseError("%d: %s without a valid metric name" % (lineno, parts[1]))
                name = parts[2]
                if name in done_families:
                    raise ParseError("%d: %s for %s after its group ended" % (lineno, parts[1], name))
                if current is not None and current != name:
                    done_families.add(current)
                current = name
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("%d: bad TYPE line" % lineno)
                    if name in types:
                        raise ParseError("%d: second TYPE for %s" % (lineno, name))
                    if any(s["family"] == name for s in samples):
                        raise ParseError("%d: TYPE for %s after its samples" % (lineno, name))
                    types[name] = parts[3]
                else:
                    if name in helps:
                        raise ParseError("%d: second HELP for %s" % (lineno, name))
                    if len(parts) == 4 and re.search(r"\\[^\\n]", parts[3]):
                        raise ParseError("%d: bad escape in HELP" % lineno)
                    helps.add(name)
            continue
        m = NAME_RE.match(line)
        if not m:
            raise ParseError("%d: a sample must start with a metric name: %r" % (lineno, line))
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = parse_labels(line, i + 1, lineno)
        rest = line[i:]
        if not rest.startswith(" "):
            raise ParseError("%d: expected a space before the value" % lineno)
        fields = rest.split()
        if len(fields) not in (1, 2) or rest != " " + " ".join(fields):
            raise ParseError("%d: expected 'value [timestamp]', got %r" % (lineno, rest))
        value = parse_float(fields[0], str(lineno))
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise ParseError("%d: bad timestamp %r" % (lineno, fields[1]))
        family = family_of(name, types)
        if family in done_families:
            raise ParseError("%d: %s is not grouped with the rest of its family" % (lineno, name))
        if current is not None and current != family:
            done_families.add(current)
        current = family
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            raise ParseError("%d: duplicate sample %s%s" % (lineno, name, labels))
        seen_series.add(key)
        ftype = types.get(family, "untyped")
        if ftype == "counter" and (value < 0 or math.isnan(value)):
            raise ParseError("%d: counter %s is %s" % (lineno, name, fields[0]))
        if ftype == "histogram" and name == family:
            raise ParseError("%d: histogram %s has a sample without a suffix" % (lineno, name))
        if ftype == "histogram" and name.endswith("_bucket") and "le" not in labels:
            raise ParseError("%d: bucket without le" % lineno)
        samples.append({"name": name, "family": family, "labels": labels, "value": value,
                        "line": lineno})
    check_histograms(types, samples)
    return types, samples


def check_histograms(types, samples):
    for fam, t in types.items():
        if t not in ("histogram", "summary"):
            continue
        groups = {}
        for s in samples:
            if s["family"] != fam:
                continue
            rest = tuple(sorted((k, v) for k, v in s["labels"].items()
                                if not (t == "histogram" and k == "le") and
                                not (t == "summary" and k == "quantile")))
            groups.setdefault(rest, []).append(s)
        for rest, ss in groups.items():
            where = "%s%s" % (fam, dict(rest))
            sums = [s for s in ss if s["name"] == fam + "_sum"]
            counts = [s for s in ss if s["name"] == fam + "_count"]
            if len(sums) != 1 or len(counts) != 1:
                raise ParseError("%s: needs exactly one _sum and one _count" % where)
            if t == "summary":
                continue
            buckets = [s for s in ss if s["name"] == fam + "_bucket"]
            if not buckets:
                raise ParseError("%s: no buckets" % where)
            les = [parse_float(b["labels"]["le"], "le of " + where) for b in buckets]
            if any(b <= a for a, b in zip(les, les[1:])):
                raise ParseError("%s: le values are not strictly increasing: %s" % (where, les))
            if les[-1] != math.inf:
                raise ParseError("%s: the last bucket is not le=\"+Inf\"" % where)
            vals = [b["value"] for b in buckets]
            if any(b < a for a, b in zip(vals, vals[1:])):
                raise ParseError("%s: bucket counts are not cumulative: %s" % (where, vals))
            if vals[-1] != counts[0]["value"]:
                raise ParseError("%s: +Inf bucket %s != _count %s" % (where, vals[-1],
                                                                     counts[0]["value"]))


def read(path):
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


BAD = {
    "sample before TYPE": "x 1\n# TYPE x gauge\n",
    "no final newline": "# TYPE x gauge\nx 1",
    "bad escape": '# TYPE x gauge\nx{a="\\q"} 1\n',
    "bad value": "# TYPE x gauge\nx one\n",
    "duplicate": '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n',
    "not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 4\nh_sum 1\nh_count 4\n',
    "no +Inf": '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n',
    "+Inf != count": '# TYPE h histogram\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 6\n',
    "negative counter": "# TYPE c counter\nc -1\n",
    "split family": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n",
    "two TYPEs": "# TYPE a gauge\n# TYPE a gauge\na 1\n",
    "unquoted label": "# TYPE a gauge\na{x=1} 1\n",
}
GOOD = ('# HELP h Durations.\n# TYPE h histogram\nh_bucket{s="a",le="0.5"} 1\n'
        'h_bucket{s="a",le="+Inf"} 2\nh_sum{s="a"} 0.7\nh_count{s="a"} 2\n'
        '# TYPE g gauge\ng{x="a\\"b\\\\c\\n"} -1.5e3 1700000000000\ng{x="y",} NaN\n')


def selftest():
    parse(GOOD)
    for what, text in BAD.items():
        try:
            parse(text)
        except ParseError:
            continue
        print("promparse selftest: accepted bad input (%s)" % what, file=sys.stderr)
        return 1
    print("selftest ok: %d bad inputs rejected" % len(BAD))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) < 3 or argv[1] not in ("check", "get"):
        print(__doc__, file=sys.stderr)
        return 64
    try:
        types, samples = parse(read(argv[2]))
    except ParseError as e:
        print("promparse: %s" % e, file=sys.stderr)
        return 1
    if argv[1] == "check":
        print("%d families, %d samples" % (len(types), len(samples)))
        return 0
    want = dict(a.split("=", 1) for a in argv[4:])
    for s in samples:
        # The labels given must match; others (every series' pipeline=) may be there.
        if s["name"] == argv[3] and all(s["labels"].get(k) == v for k, v in want.items()):
            v = s["value"]
            print(int(v) if math.isfinite(v) and v == int(v) else repr(v))
            return 0
    print("promparse: no sample %s%s" % (argv[3], want), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
