# Reference values for tests/test_bayes.py, produced once with:
#   Rscript tests/reference/bayes_bayesmeta.R <path to bayesmeta's R/bayesmeta.R>
# bayesmeta is not packaged for Debian here; its code is pure R, so the script sources the
# package's single R file, R/bayesmeta.R of bayesmeta 3.4 (CRAN release 2024-02-15; the file
# as in https://github.com/cran/bayesmeta at commit e7eaba2, "version 3.4"). Only
# bayesmeta(), the prior densities and TurnerEtAlPrior()/RhodesEtAlPrior() are used.
# Data: Crins et al. (2014) log odds ratios as printed in the bayesmeta vignette (4 decimals).
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(metafor))
source(args[1])
library(jsonlite)

y <- c(-2.3097, -0.4595, -2.3026, -1.7579, -1.2585, -2.4179)
v <- c(0.3594, 0.3096, 0.7750, 0.2078, 0.4122, 2.3373)
tp <- TurnerEtAlPrior("resource use / hospital stay / process", "non-pharmacological", "placebo / control")
rp <- RhodesEtAlPrior("various subjectively measured outcomes", "non-pharmacological", "placebo / control")
priors <- list(
  half_normal = list(call = "function(t) dhalfnormal(t, scale=0.5)", f = function(t) dhalfnormal(t, scale = 0.5)),
  half_cauchy = list(call = "function(t) dhalfcauchy(t, scale=0.5)", f = function(t) dhalfcauchy(t, scale = 0.5)),
  turner = list(call = 'TurnerEtAlPrior("resource use / hospital stay / process", "non-pharmacological", "placebo / control")$dprior',
                f = tp$dprior),
  rhodes = list(call = 'RhodesEtAlPrior("various subjectively measured outcomes", "non-pharmacological", "placebo / control")$dprior',
                f = rp$dprior),
  uniform = list(call = '"uniform"', f = "uniform"))
out <- list(R_version = R.version.string, bayesmeta_version = "3.4 (R/bayesmeta.R sourced)",
            generated_by = "tests/reference/bayes_bayesmeta.R", yi = y, vi = v,
            turner_parameters = list(meanlog_tau2 = tp$parameters["tau^2", "mu"],
                                     sdlog_tau2 = tp$parameters["tau^2", "sigma"]),
            rhodes_parameters = list(location_tau2 = rp$parameters["tau^2", "location"],
                                     scale_tau2 = rp$parameters["tau^2", "scale"]))
for (name in names(priors)) {
  b <- tryCatch(bayesmeta(y = y, sigma = sqrt(v), tau.prior = priors[[name]]$f),
                error = function(e) conditionMessage(e))
  if (is.character(b)) {  # bayesmeta's own integration fails for this prior
    out$fits[[name]] <- list(call = priors[[name]]$call, error = b)
    next
  }
  s <- b$summary
  out$fits[[name]] <- list(
    call = sprintf("bayesmeta(y, sigma=sqrt(v), tau.prior=%s)", priors[[name]]$call),
    tau = list(median = s["median", "tau"], mean = s["mean", "tau"], sd = s["sd", "tau"],
               central = as.numeric(b$qposterior(tau.p = c(0.025, 0.975)))),
    mu = list(median = s["median", "mu"], mean = s["mean", "mu"], sd = s["sd", "mu"],
              central = as.numeric(b$qposterior(mu.p = c(0.025, 0.975))),
              p_above_0 = 1 - b$pposterior(mu = 0)),
    theta = list(mean = s["mean", "theta"], sd = s["sd", "theta"]),
    cdf_tau_0.3 = b$pposterior(tau = 0.3))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/bayes_bayesmeta.json")
