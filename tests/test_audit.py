"""The audit of the published pooled results, with hand-checked values.

Method: Altman DG, Bland JM. How to obtain the P value from a confidence interval. BMJ
2011;343:d2304: SE = (u - l) / (2 x 1.96), z = Est / SE, on the log scale for ratios;
their approximation P = exp(-0.717 z - 0.416 z^2). Normal reference value: Phi(1.96) =
0.9750021048517795 (standard normal table), so the two-sided p at z = 1.96 is
0.049995790296441.
"""
from __future__ import annotations

import math
import shutil

import pytest

from analysis.evidence import audit
from analysis.io.paths import REPO_ROOT

P_AT_1_96 = 2 * (1 - 0.9750021048517795)


def by_id(table, synthesis_id):
    return table[table["synthesis_id"] == synthesis_id].iloc[0]


def test_p_from_ci_for_a_difference_at_z_1_96():
    se, z, p = audit.p_from_ci(1.96, 0.0, 3.92, ratio=False)
    assert se == pytest.approx(1.0, abs=1e-12)
    assert z == pytest.approx(1.96, abs=1e-12)
    assert p == pytest.approx(P_AT_1_96, abs=1e-12)


def test_p_from_ci_for_a_ratio_uses_the_log_scale():
    se, z, p = audit.p_from_ci(math.exp(1.96), 1.0, math.exp(3.92), ratio=True)
    assert (se, z) == (pytest.approx(1.0, abs=1e-12), pytest.approx(1.96, abs=1e-12))
    assert p == pytest.approx(P_AT_1_96, abs=1e-12)


def test_altman_bland_approximation():
    # exp(-0.717 x 1.96 - 0.416 x 1.96^2) = exp(-3.0034256) = 0.04962...
    assert audit.p_altman_bland(1.96) == pytest.approx(math.exp(-3.0034256), abs=1e-12)
    assert audit.p_altman_bland(-1.96) == audit.p_altman_bland(1.96)
    assert audit.p_altman_bland(1.96) == pytest.approx(P_AT_1_96, abs=5e-4)


def test_ni_behaviour_cannot_all_be_right():
    """OR 1.67 (95% CI 1.05 to 2.94), P = .05 (Ni et al. 2025 abstract)."""
    row = by_id(audit.audit_published_syntheses(), "ni2025_behaviour")
    se = (math.log(2.94) - math.log(1.05)) / 3.92
    assert row["scale"] == "log"
    assert row["se"] == pytest.approx(se, abs=1e-12)
    assert row["z"] == pytest.approx(math.log(1.67) / se, abs=1e-12)
    assert row["p_from_ci"] == pytest.approx(0.0509, abs=5e-5)  # z = 1.9524 by hand
    assert row["ci_excludes_null"] is True
    # the limits lie 0.464 below and 0.566 above log 1.67: asymmetric beyond rounding
    assert row["ci_below"] == pytest.approx(math.log(1.67) - math.log(1.05), abs=1e-12)
    assert row["ci_above"] == pytest.approx(math.log(2.94) - math.log(1.67), abs=1e-12)
    assert row["ci_symmetric"] is False
    # the CI's centre on the log scale is the geometric mean of its limits, sqrt(1.05 x 2.94)
    assert row["ci_centre"] == pytest.approx(math.sqrt(1.05 * 2.94), abs=1e-12)
    assert row["p_at_ci_centre"] == pytest.approx(0.0319, abs=5e-5)  # z = 0.56358 / 0.26266
    assert row["p_consistent"] is True
    assert row["consistent"] is False
    assert row["verdict"].startswith("The 95% CI excludes 1 (no effect). The estimate is not at "
                                     "the centre of its CI on the log scale")
    assert "A Wald interval of the same width centred on 1.67 runs from 1.00 to 2.79." in row["verdict"]
    assert "agrees with it if p lay between 0.045 and .05 before rounding" in row["verdict"]
    # the centre, 1.76, is the printed 1.67 with two digits swapped; with it p = .032
    assert row["digit_swap"] == "1.76"
    assert "1.76 has the digits of the printed 1.67 in another order" in row["verdict"]


def test_ni_intentions_p_is_not_below_001():
    """SMD 0.64 (95% CI 0.20 to 1.08), P < .001: the CI implies p = 0.0044."""
    row = by_id(audit.audit_published_syntheses(), "ni2025_intentions_post")
    assert row["p_from_ci"] == pytest.approx(0.00436, abs=5e-6)  # z = 0.64 / 0.22449 = 2.8509
    # rounding: est in [.635, .645], limits +-.005 -> p in [0.0037, 0.0052]; never < .001
    assert row["p_from_ci_low"] == pytest.approx(0.00366, abs=5e-5)
    assert row["p_from_ci_high"] == pytest.approx(0.00516, abs=5e-5)
    assert row["p_consistent"] is False and row["ci_symmetric"] is True
    assert row["verdict"] == (
        "The 95% CI excludes 0 (no effect). The estimate lies at the centre of its CI on its own "
        "scale within the rounding of the printed numbers. p recomputed from the CI (Altman & "
        "Bland 2011) is 0.004 (0.004 to 0.005 within the rounding of the printed numbers); the "
        "printed P < .001 lies outside that range. This P may be that of the test for "
        "heterogeneity, which forest plots print beside the pooled estimate.")


def test_overall_estimate_beyond_every_printed_subgroup():
    """SMD 0.64 overall; MCII 0.62 (0.37 to 0.88) and PEI 0.20 (0.06 to 0.34): weighted mean
    (0.62 / 0.1301^2 + 0.20 / 0.0714^2) / (1 / 0.1301^2 + 1 / 0.0714^2) = 0.297."""
    checks = audit.subgroup_checks().set_index("synthesis_id")
    row = checks.loc["ni2025_intentions_post"]
    w1, w2 = (3.92 / (0.88 - 0.37)) ** 2, (3.92 / (0.34 - 0.06)) ** 2
    assert row["weighted_mean"] == pytest.approx((0.62 * w1 + 0.20 * w2) / (w1 + w2), abs=1e-12)
    assert round(row["weighted_mean"], 2) == 0.30
    assert row["beyond_every_subgroup"] is True


def test_effective_samples_of_r_printed_with_p():
    table = audit.audit_published_syntheses().set_index("synthesis_id")
    sizes = [round(table.loc[i, "effective_n"]) for i in
             ("bizzotto2023_osg", "bizzotto2023_genz", "bizzotto2023_empowerment")]
    assert sizes == [860, 674, 135]


def test_the_audit_states_facts_and_judges_no_one():
    table = audit.audit_published_syntheses()
    words = ("cannot all be right", "cannot be", "wrong", "error", "mistake", "false")
    for verdict in table["verdict"]:
        assert not any(word in verdict.lower() for word in words), verdict
    for prefix in ("Ni", "Bizzotto"):
        assert "appendix" in audit.audit_sentence(prefix)


def test_consistent_rows():
    table = audit.audit_published_syntheses()
    attitudes = by_id(table, "ni2025_attitudes")  # MD 0.36 (0.16 to 0.57): 0.20 below, 0.21 above
    assert attitudes["ci_symmetric"] is True and attitudes["consistent"] is True
    assert attitudes["p_from_ci"] == pytest.approx(0.000578, abs=5e-6)  # z = 0.36 / 0.10459
    assert by_id(table, "ni2025_intentions_mcii_2wk")["consistent"] is True


def test_rows_without_ci_or_estimate_are_not_judged():
    table = audit.audit_published_syntheses()
    osg = by_id(table, "bizzotto2023_osg")
    assert osg["consistent"] is None and osg["p_from_ci"] is None
    assert osg["verdict"].startswith("No confidence interval is printed; the P value is not "
                                     "recomputed from an interval.")
    assert by_id(table, "ni2025_stigma")["verdict"] == "No pooled estimate is printed; nothing to check."


def test_significant_p_with_a_ci_through_the_null(tmp_path, monkeypatch):
    shutil.copytree(REPO_ROOT / "data", tmp_path / "data")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "data/published_syntheses.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace("MD,0.36,0.16,0.57,<.001", "MD,0.36,-0.16,0.57,<.001")
    text = text.replace("95% CI: 0.16, 0.57", "95% CI: -0.16, 0.57")
    path.write_text(text, encoding="utf-8")
    row = by_id(audit.audit_published_syntheses(), "ni2025_attitudes")
    assert row["ci_excludes_null"] is False and row["consistent"] is False
    assert "A CI that includes 0 corresponds to p >= .05; the printed P < .001 is below .05." in row["verdict"]


def test_printed_p_intervals():
    assert audit._p_interval(".05") == (pytest.approx(0.045), pytest.approx(0.055))
    assert audit._p_interval("<.001") == (0.0, 0.001)
    assert audit._p_interval(">.05") == (0.05, 1.0)
