"""The coefficient table of the engine's regression-type results (meta-regression, the
three-level model, cluster-robust fits): the first coefficient's estimate and standard error,
and the table as plain records."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads only where a table is built
    import pandas as pd

__all__ = ["CoefficientTable", "coefficient_records"]


class CoefficientTable:
    """For a result whose ``coefficients`` DataFrame has columns term, estimate, se, ...: the
    first row is the pooled estimate (the intercept, or the only coefficient)."""

    @property
    def estimate(self) -> float:
        return float(self.coefficients["estimate"].iloc[0])

    @property
    def se(self) -> float:
        return float(self.coefficients["se"].iloc[0])


def coefficient_records(table: pd.DataFrame) -> list[dict]:
    """One plain dict per coefficient: the term as str, every other column as float."""
    return [{key: (str(val) if key == "term" else float(val)) for key, val in row.items()}
            for row in table.to_dict(orient="records")]
