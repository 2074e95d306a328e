"""The meta-analysis engine: numbers in, frozen results out.

Effect sizes (effects, distributions); the models: input checks (checks), weighted least
squares (wls), tau² (tau2), pooling (meta_analysis), meta_regression, subgroups, the
three-level model (multilevel), cluster-robust inference (robust, with coefficients) and
Bayesian pooling (bayes); the sensitivity analyses, built on many fits at once
(sensitivity_checks, batched_fits): influence (leave-one-out, influence, Baujat),
cumulative, gosh, permutation, small_study (Egger, Begg, PET-PEESE, funnel contours) and
trim_and_fill."""
