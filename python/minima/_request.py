"""Python arguments as the library's request strings.

A request is "key=value,key=value" with the keys of the command-line
options (dashes as underscores); lists are joined with ';'. Numbers are
written so that they read back exactly (repr of a float is the shortest
text that round-trips), so a request means the same numbers as the
matching command line."""

import numbers


def value(v):
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, (list, tuple)):
        return ";".join(value(x) for x in v)
    s = str(v)
    if any(c in s for c in ",="):
        raise ValueError("a request value may not contain ',' or '=': %r" % s)
    return s


def request(**kw):
    """key=value pairs in the given order; None values are left out (the
    library's default)."""
    parts = []
    for k, v in kw.items():
        if v is None:
            continue
        parts.append("%s=%s" % (k.replace("-", "_"), value(v)))
    return ",".join(parts)


def measures(m):
    """None -> "all"; "a,b" as is; a list -> "a,b"."""
    if m is None:
        return "all"
    if isinstance(m, str):
        return m
    return ",".join(str(x) for x in m)


def settings(s):
    """Each measure's settings: a dict {measure: {key: value} or "k=v,k=v"}
    or the library's own string "name:k=v,k=v;name:k=v"."""
    if s is None or s == {}:
        return None
    if isinstance(s, str):
        return s
    parts = []
    for name, kv in s.items():
        if isinstance(kv, dict):
            kv = ",".join("%s=%s" % (k, value(v)) for k, v in kv.items())
        if kv:
            parts.append("%s:%s" % (name, kv))
    return ";".join(parts) or None
