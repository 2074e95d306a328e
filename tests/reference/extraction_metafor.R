# Reference values for tests/test_extraction.py, produced once with:
#   Rscript tests/reference/extraction_metafor.R
# It writes tests/reference/extraction_metafor.json: metafor's effect sizes for the review's
# printed statistics (data/*/extraction.csv), computed independently of the Python package.
library(metafor)
library(jsonlite)

out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/extraction_metafor.R",
  cases = list()
)
keep <- function(name, call, res) {
  out$cases[[name]] <<- list(call = call, yi = as.numeric(res$yi), vi = as.numeric(res$vi))
}

# Gould 2002: phi = sqrt(chi2 / N) with chi2 = 3.8, N = 519; Fisher z with var 1/(N - 3)
keep("gould2002_zcor", 'escalc(measure="ZCOR", ri=sqrt(3.8/519), ni=519)',
     escalc(measure = "ZCOR", ri = sqrt(3.8 / 519), ni = 519))

# Younes 2015, Gunn 2016, Sorkin 2021 (Model 1, Model 3): log OR and variance from the 95% CI
# (metafor 3.8-1 has no conv.wald, so the Wald back-calculation is written out in base R)
or_est <- c(2.36, 1.87, 6.01, 3.44); or_lb <- c(1.36, 1.09, 4.70, 2.81); or_ub <- c(4.09, 3.22, 7.70, 4.20)
keep("or_from_ci", "yi = log(or); vi = ((log(ub) - log(lb)) / (2 * qnorm(0.975)))^2",
     list(yi = log(or_est), vi = ((log(or_ub) - log(or_lb)) / (2 * qnorm(0.975)))^2))

# Shafran 2019: arms combined (9/111 + 9/57 = 18/168 vs 10/138) and control split (5/69 each)
keep("shafran2019_combined", 'escalc(measure="OR", ai=18, n1i=168, ci=10, n2i=138)',
     escalc(measure = "OR", ai = 18, n1i = 168, ci = 10, n2i = 138))
keep("shafran2019_split", 'escalc(measure="OR", ai=c(9,9), n1i=c(111,57), ci=c(5,5), n2i=c(69,69))',
     escalc(measure = "OR", ai = c(9, 9), n1i = c(111, 57), ci = c(5, 5), n2i = c(69, 69)))

# Kravitz 2013: risk difference and its variance from the printed 95% CI (percentage points)
keep("kravitz2013_rd_ci", "yi = 1.1; vi = ((8.9 - (-6.7)) / (2 * qnorm(0.975)))^2",
     list(yi = 1.1, vi = ((8.9 - (-6.7)) / (2 * qnorm(0.975)))^2))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/extraction_metafor.json")
