# Reference values for the routes to the pooled scale (tests/test_routes.py), produced once with:
#   Rscript tests/reference/routes_metafor.R
# It writes tests/reference/routes_metafor.json: metafor's effect sizes for the 2x2 tables that
# the review rebuilds from printed percentages and group shares, the Pearson chi-square of those
# tables, the correlation route for the printed odds ratios, and the pooled results of question 1
# by both routes with the t(k - 2) prediction interval (Higgins et al. 2009) written out.
library(metafor)
library(jsonlite)

out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/routes_metafor.R",
  cases = list()
)
keep <- function(name, call, yi, vi, extra = list()) {
  out$cases[[name]] <<- c(list(call = call, yi = as.numeric(yi), vi = as.numeric(vi)), extra)
}
cells <- function(p1, p2, n1, n2) c(ai = p1 * n1, bi = (1 - p1) * n1, ci = p2 * n2, di = (1 - p2) * n2)

# Gould 2002: 16.1% of help seekers vs 9.1% of the others above the BDI threshold;
# help seekers 18.2% of n = 519 (cells not rounded).
g <- cells(0.161, 0.091, 0.182 * 519, 0.818 * 519)
gould <- escalc(measure = "OR", ai = g["ai"], bi = g["bi"], ci = g["ci"], di = g["di"])
tab <- matrix(g, nrow = 2, byrow = TRUE)
keep("gould2002_or", 'escalc("OR", cells(.161, .091, .182*519, .818*519))', gould$yi, gould$vi,
     list(chi2 = unname(suppressWarnings(chisq.test(tab, correct = FALSE))$statistic),
          test_based_vi = (as.numeric(gould$yi) / sqrt(3.8))^2))

# Rideout 2018: 53% (moderate to severe, 25% of 1337) vs 27% (none, 52% of 1337) sought peers online.
r <- cells(0.53, 0.27, 0.25 * 1337, 0.52 * 1337)
rideout <- escalc(measure = "OR", ai = r["ai"], bi = r["bi"], ci = r["ci"], di = r["di"])
phi <- as.numeric(escalc(measure = "PHI", ai = r["ai"], bi = r["bi"], ci = r["ci"], di = r["di"])$yi)
rideout_z <- escalc(measure = "ZCOR", ri = phi, ni = round(sum(r)))
keep("rideout2018_or", 'escalc("OR", cells(.53, .27, .25*1337, .52*1337))', rideout$yi, rideout$vi)
keep("rideout2018_zphi", 'escalc("ZCOR", ri = escalc("PHI", same cells)$yi, ni = round(sum(cells)))',
     rideout_z$yi, rideout_z$vi, list(phi = phi))

# Younes 2015: OR 2.36 (1.36-4.09) -> d -> r with the printed split 105 of 1214 -> Fisher z
lor <- log(2.36); vlor <- ((log(4.09) - log(1.36)) / (2 * qnorm(0.975)))^2
d <- lor * sqrt(3) / pi; vd <- vlor * 3 / pi^2
a <- 1214^2 / (105 * 1109)
rr <- d / sqrt(d^2 + a); vr <- a^2 * vd / (d^2 + a)^3
keep("younes2015_split_z", "Borenstein eqs. 7.1-7.2, 7.5-7.6 with a = (n1 + n2)^2 / (n1 n2)",
     atanh(rr), vr / (1 - rr^2)^2, list(r = rr))

# Question 1 by the log odds ratio route (primary data): REML with Knapp-Hartung.
yi <- c(gould$yi, log(2.36), log(1.87), rideout$yi, log(6.01))
vi <- c(gould$vi, vlor, ((log(3.22) - log(1.09)) / (2 * qnorm(0.975)))^2, rideout$vi,
        ((log(7.70) - log(4.70)) / (2 * qnorm(0.975)))^2)
fit <- rma(yi, vi, method = "REML", test = "knha")
pred <- predict(fit)
k <- fit$k
half <- qt(0.975, k - 2) * sqrt(fit$tau2 + fit$se^2)
out$cases[["q1_log_or_route"]] <- list(
  call = "rma(yi, vi, method='REML', test='knha'); PI t(k-2) written out",
  studies = c("Gould2002", "Younes2015", "Gunn2016", "Rideout2018", "Sorkin2021"),
  yi = as.numeric(yi), vi = as.numeric(vi),
  estimate = as.numeric(fit$b), se = fit$se, ci_low = fit$ci.lb, ci_high = fit$ci.ub,
  tau2 = fit$tau2, i2 = fit$I2, pi_low_metafor = pred$pi.lb, pi_high_metafor = pred$pi.ub,
  pi_low_t_k_minus_2 = as.numeric(fit$b) - half, pi_high_t_k_minus_2 = as.numeric(fit$b) + half,
  fe_ci_low = rma(yi, vi, method = "FE")$ci.lb, fe_ci_high = rma(yi, vi, method = "FE")$ci.ub)

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/routes_metafor.json")
