"""The few distribution functions a default pooled analysis needs, in plain ``math``.

``scipy.special`` takes about a quarter of a second to import; a z-test meta-analysis
needs only the normal distribution function, its inverse and the chi² upper tail of Q,
all of which have exact or full-precision closed forms:

* ``norm_cdf``: Phi(x) from ``math.erf``/``math.erfc``, split at |x| = 1/sqrt(2) exactly as
  Cephes' ``ndtr`` (the routine behind ``scipy.special.ndtr``) splits it.
* ``norm_ppf``: Wichura's (1988) algorithm AS 241 (PPND16), relative error about 1e-16,
  the algorithm R's ``qnorm()`` uses.
* ``chi2_sf``: for integer degrees of freedom the upper tail is a finite sum (Abramowitz &
  Stegun 26.4.4 and 26.4.5): even df = 2n: exp(-x/2) sum_{j<n} (x/2)^j / j!; odd df:
  erfc(sqrt(x/2)) + exp(-x/2) sum_{j=1..n} (x/2)^(j-1/2) / Gamma(j + 1/2). Every term is
  positive, so the relative error is a few ulps per term. Large df, or x so large that
  exp(-x/2) underflows, are handed to ``scipy.special.chdtrc``, imported only then.
"""
from __future__ import annotations

import math

__all__ = ["norm_cdf", "norm_sf", "norm_ppf", "norm_isf", "chi2_sf"]

_SQRTH = math.sqrt(0.5)
_SQRT_PI = math.sqrt(math.pi)
_CHI2_SUM_MAX_DF = 400  # finite sum up to here: at most 200 terms, a few microseconds


def norm_cdf(x: float) -> float:
    """Standard normal distribution function, as Cephes ``ndtr``."""
    x = float(x)
    t = x * _SQRTH
    z = abs(t)
    if z < _SQRTH:
        return 0.5 + 0.5 * math.erf(t)
    y = 0.5 * math.erfc(z)
    return 1.0 - y if t > 0 else y


def norm_sf(x: float) -> float:
    """Upper tail 1 - Phi(x), computed as Phi(-x) (no cancellation)."""
    return norm_cdf(-float(x))


def norm_ppf(p: float) -> float:
    """Quantile of the standard normal distribution: Wichura (1988) AS 241, PPND16."""
    p = float(p)
    if math.isnan(p) or p < 0.0 or p > 1.0:
        return float("nan")
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
                    + 6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r
                  + 1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r
                + 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0) * q
        den = (((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
                    + 3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r
                  + 5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r
                + 4.2313330701600911252e+1) * r + 1.0)
        return num / den
    r = p if q <= 0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                    + 2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r
                  + 3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r
                + 4.63033784615654529590e+0) * r + 1.42343711074968357734e+0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                    + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                  + 6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r
                + 2.05319162663775882187e+0) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                    + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                  + 2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r
                + 5.46378491116411436990e+0) * r + 6.65790464350110377720e+0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                    + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                  + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0)
    x = num / den
    return -x if q < 0 else x


def norm_isf(p: float) -> float:
    """Upper-tail quantile: the x with 1 - Phi(x) = p."""
    return -norm_ppf(p)


def chi2_sf(df: float, x: float) -> float:
    """Upper tail P(X > x) of chi²(df), as ``scipy.special.chdtrc(df, x)``."""
    x = float(x)
    if x <= 0.0:
        return 1.0
    half = 0.5 * x
    if df == int(df) and 1 <= df <= _CHI2_SUM_MAX_DF and half < 700.0:
        n = int(df)
        e = math.exp(-half)
        if n % 2 == 0:
            term, total = e, e
            for j in range(1, n // 2):
                term *= half / j
                total += term
            return min(total, 1.0)
        total = math.erfc(math.sqrt(half))
        term = e * math.sqrt(half) / (_SQRT_PI / 2)  # j = 1: (x/2)^(1/2) / Gamma(3/2)
        for j in range(1, (n - 1) // 2 + 1):
            total += term
            term *= half / (j + 0.5)
        return min(total, 1.0)
    from scipy import special  # large df: the regularised incomplete gamma function

    return float(special.chdtrc(df, x))
