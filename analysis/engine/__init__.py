"""The meta-analysis engine: numbers in, frozen results out. Effect sizes, random-effects models, cluster-robust and Bayesian inference, and sensitivity analyses."""
