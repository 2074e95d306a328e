# Reference values for tests/test_effects.py, produced once with:
#   Rscript tests/reference/effects_escalc.R
# It writes tests/reference/effects_escalc.json (inputs and metafor::escalc() outputs).
# Datasets are those shipped with metafor; their publications are cited in the tests.
library(metafor)
library(jsonlite)

out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/effects_escalc.R",
  cases = list()
)
add_case <- function(name, call, inputs, res, extra = list()) {
  out$cases[[name]] <<- c(list(call = call, inputs = inputs,
                               yi = as.numeric(res$yi), vi = as.numeric(res$vi)), extra)
}

# Correlations to Fisher z (ZCOR)
d <- dat.molloy2014
add_case("zcor_molloy2014", 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.molloy2014)',
         list(ri = d$ri, ni = d$ni, labels = paste(d$authors, d$year)),
         escalc(measure = "ZCOR", ri = ri, ni = ni, data = d))
d <- dat.mcdaniel1994
add_case("zcor_mcdaniel1994", 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.mcdaniel1994)',
         list(ri = d$ri, ni = d$ni), escalc(measure = "ZCOR", ri = ri, ni = ni, data = d))

# 2x2 tables, BCG vaccine trials
d <- dat.bcg
bcg_in <- list(ai = d$tpos, n1i = d$tpos + d$tneg, ci = d$cpos, n2i = d$cpos + d$cneg,
               labels = paste(d$author, d$year))
for (m in c("RR", "OR", "RD")) {
  add_case(paste0(tolower(m), "_bcg"),
           sprintf('escalc(measure="%s", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)', m),
           bcg_in, escalc(measure = m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = d))
}
# log odds ratio converted to d (Hasselblad & Hedges 1995): measure OR2DL
add_case("or2dl_bcg", 'escalc(measure="OR2DL", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
         bcg_in, escalc(measure = "OR2DL", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = d))
# phi coefficient and the Pearson chi-square (no continuity correction) of each table
phi <- escalc(measure = "PHI", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = d)
chi2 <- sapply(seq_len(nrow(d)), function(i)
  unname(chisq.test(matrix(c(d$tpos[i], d$tneg[i], d$cpos[i], d$cneg[i]), 2, byrow = TRUE),
                    correct = FALSE)$statistic))
add_case("phi_bcg", 'escalc(measure="PHI", ...); chisq.test(table, correct=FALSE)$statistic',
         c(bcg_in, list(chi2 = chi2, n = d$tpos + d$tneg + d$cpos + d$cneg)), phi)

# Zero cells: central venous catheter trials with single- and double-zero tables
d <- dat.nielweise2007
nz_in <- list(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, labels = paste(d$author, d$year))
for (m in c("OR", "RR", "RD")) {
  for (to in c("only0", "all", "if0all")) {
    for (drop00 in c(TRUE, FALSE)) {
      add_case(sprintf("%s_nielweise2007_%s_drop00_%s", tolower(m), to, drop00),
               sprintf('escalc(measure="%s", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=1/2, to="%s", drop00=%s, data=dat.nielweise2007)',
                       m, to, drop00),
               c(nz_in, list(add = 0.5, to = to, drop00 = drop00)),
               escalc(measure = m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, add = 1/2, to = to,
                      drop00 = drop00, data = d))
    }
  }
}

# Risk difference, lidocaine trials
d <- dat.hine1989
add_case("rd_hine1989", 'escalc(measure="RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.hine1989)',
         list(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, labels = d$source),
         escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = d))

# Means and SDs: stroke unit trials
d <- dat.normand1999
nm_in <- list(m1i = d$m1i, sd1i = d$sd1i, n1i = d$n1i, m2i = d$m2i, sd2i = d$sd2i, n2i = d$n2i,
              labels = d$source)
add_case("md_normand1999", 'escalc(measure="MD", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999)',
         nm_in, escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                       n2i = n2i, data = d))
add_case("smd_normand1999", 'escalc(measure="SMD", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999)  # vtype="LS"',
         nm_in, escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                       n2i = n2i, data = d))
add_case("d2orl_normand1999", 'escalc(measure="D2ORL", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999)',
         nm_in, escalc(measure = "D2ORL", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                       n2i = n2i, data = d))
# Student t statistics of the same comparisons (pooled SD), then escalc(measure="SMD", ti=)
sdp <- sqrt(((d$n1i - 1) * d$sd1i^2 + (d$n2i - 1) * d$sd2i^2) / (d$n1i + d$n2i - 2))
ti <- (d$m1i - d$m2i) / (sdp * sqrt(1 / d$n1i + 1 / d$n2i))
add_case("smd_from_t_normand1999", 'escalc(measure="SMD", ti=ti, n1i=n1i, n2i=n2i) with ti the pooled-SD t statistics',
         list(ti = ti, n1i = d$n1i, n2i = d$n2i, labels = d$source),
         escalc(measure = "SMD", ti = ti, n1i = d$n1i, n2i = d$n2i))

# Odds ratios printed with 95% CIs: passive smoking and lung cancer
d <- dat.hackshaw1998
add_case("or_ci_hackshaw1998",
         "yi = log(or); vi = ((log(or.ub) - log(or.lb)) / (2 * qnorm(0.975)))^2",
         list(or = d$or, or_lb = d$or.lb, or_ub = d$or.ub, labels = paste(d$author, d$year),
              printed_yi = d$yi, printed_vi = d$vi),
         list(yi = log(d$or), vi = ((log(d$or.ub) - log(d$or.lb)) / (2 * qnorm(0.975)))^2))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/effects_escalc.json")
