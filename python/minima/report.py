"""Plain-text tables of results, as the command line prints them."""


def _num(x):
    return "-" if x is None else "%.5g" % x


def audit_table(result):
    """The measures' table of an audit result (Problem.audit), one line per
    measure: expected invariance, min and max along the orbit, their ratio,
    the verdict and the value at the canonical representative."""
    rows = ["  %-20s %-10s %12s %12s %10s  %s" % ("measure", "invariant", "min", "max", "ratio", "verdict")]
    for m in result.get("measures", []):
        verdict = m.get("verdict", "")
        if m.get("measured", True) and not m.get("agrees", True):
            verdict += "  (DISAGREES with the expected invariance)"
        canon = m.get("canonical")
        if isinstance(canon, dict) and canon.get("value") is not None:
            verdict += "  canonical %s" % _num(canon["value"])
        rows.append("  %-20s %-10s %12s %12s %10s  %s" % (
            m.get("name", "?"), m.get("invariant_expected", "?"), _num(m.get("min")),
            _num(m.get("max")), _num(m.get("ratio")), verdict))
    if "all_agree" in result:
        rows.append("every verdict agrees with the expected invariance" if result["all_agree"]
                    else "some verdicts disagree: %s" % ", ".join(map(str, result.get("disagreements", []))))
    return "\n".join(rows)


def spectrum_table(result):
    """The eigenvalues of a spectrum result with their residuals."""
    rows = []
    for side in ("top", "bottom"):
        for i, e in enumerate(result.get(side) or []):
            rows.append("  %-6s %2d  %22.15g   residual %.2e" % (side, i + 1, e["eigenvalue"], e["residual"]))
    if "converged" in result and not result["converged"]:
        rows.append("  (NOT converged)")
    return "\n".join(rows)
