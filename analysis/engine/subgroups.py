"""Subgroup analysis: each subgroup pooled with its own tau², and the test for subgroup
differences (with the alternative mixed-effects test of one pooled tau²)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .checks import check_method, check_test, validate_effects
from .distributions import chi2_sf
from .meta_analysis import MetaResult, meta_analysis
from .meta_regression import RegressionResult, meta_regression
from .wls import vdot

if TYPE_CHECKING:  # pandas loads only inside the functions that use it
    import pandas as pd

__all__ = ["SubgroupResult", "subgroup_analysis"]


@dataclass
class SubgroupResult:
    """Subgroup analysis. ``groups``: one MetaResult per subgroup (own tau² each).
    ``q_between``/``df_between``/``p_between``: test for subgroup differences as RevMan 5
    and Borenstein et al. (2009, ch. 19, "separate estimates of tau²") compute it: a
    common-effect Q across the subgroup estimates with weights 1/se², chi²(G - 1) --
    identical to metafor's ``rma(est, sei=se, mods=~group, method="FE")`` QM.
    ``moderator``: the alternative mixed-effects test with one pooled tau² (metafor
    ``rma(yi, vi, mods=~factor(group))``), as a RegressionResult."""

    method: str
    test: str
    groups: dict[str, MetaResult]
    q_between: float
    df_between: int
    p_between: float
    moderator: RegressionResult | None

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [{"group": g, "k": r.k, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                 "ci_high": r.ci_high, "tau2": r.tau2, "i2": r.i2, "method": r.method}
                for g, r in self.groups.items()]
        df = pd.DataFrame(rows)
        df["group"] = df["group"].astype("string")
        return df

    def summary(self, digits: int = 2) -> str:
        return (f"Subgroups ({self.method}, separate tau² per subgroup), {len(self.groups)} groups: "
                f"Q between = {self.q_between:.{digits}f}, df = {self.df_between}, "
                f"p = {self.p_between:.3g}")

    def to_dict(self) -> dict:
        return {"method": self.method, "test": self.test, "q_between": float(self.q_between),
                "df_between": int(self.df_between), "p_between": float(self.p_between),
                "groups": {g: r.to_dict() for g, r in self.groups.items()},
                "moderator": None if self.moderator is None else self.moderator.to_dict(),
                "summary": self.summary()}


def subgroup_analysis(yi, vi, groups, *, method: str = "REML", test: str = "z",
                      level: float = 0.95, labels=None, **options) -> SubgroupResult:
    """Pool each subgroup separately (its own tau²) and test for subgroup differences.

    A subgroup with a single study cannot estimate tau²; it is pooled as a common-effect
    model (tau² = 0, metafor's behaviour for k = 1) and the MetaResult says so in ``method``.
    Groups keep their order of first appearance.
    """
    import pandas as pd

    m = check_method(method)
    t = check_test(test)
    y, v, names = validate_effects(yi, vi, labels, what="subgroup analysis")
    g = [str(x) for x in (groups.tolist() if hasattr(groups, "tolist") else list(groups))]
    if len(g) != y.size:
        raise ValueError(f"groups has {len(g)} entries but there are {y.size} studies")
    if any(x in ("", "nan", "None", "<NA>") for x in g):
        bad = [names[i] for i, x in enumerate(g) if x in ("", "nan", "None", "<NA>")]
        raise ValueError(f"subgroup analysis: missing subgroup for {', '.join(bad)}")
    order = list(dict.fromkeys(g))
    if len(order) < 2:
        raise ValueError(f"subgroup analysis needs at least 2 subgroups (found {len(order)})")
    ga = np.array(g, dtype=object)
    results: dict[str, MetaResult] = {}
    for name in order:
        ix = np.flatnonzero(ga == name)
        sub_method = m if ix.size >= 2 else "FE"
        sub_test = t if ix.size >= 2 else "z"
        results[name] = meta_analysis(y[ix], v[ix], method=sub_method, test=sub_test, level=level,
                                      labels=[names[i] for i in ix], **options)
    est = np.array([r.estimate for r in results.values()])
    w = 1.0 / np.array([r.se for r in results.values()]) ** 2
    pooled = vdot(w, est) / w.sum()
    q_between = float(vdot(w, (est - pooled) ** 2))
    df_between = len(order) - 1
    dummies = pd.DataFrame({f"group[{name}]": (ga == name).astype(float) for name in order[1:]})
    moderator = None
    if y.size > len(order):
        moderator = meta_regression(y, v, dummies, method=m, test=t, level=level, labels=names, **options)
    return SubgroupResult(method=m, test=t, groups=results, q_between=q_between,
                          df_between=df_between, p_between=chi2_sf(df_between, q_between),
                          moderator=moderator)
