# Reference values for tests/test_synthesis.py: pooled results on the reader's scale
# (metafor's predict(..., transf=)), random-effects models REML + Knapp-Hartung and DL + z,
# and a cumulative meta-analysis (cumul()) ordered by year.
# Run from the repository root:  Rscript tests/reference/synthesis_metafor.R
library(metafor)
library(jsonlite)

fit_block <- function(dat, transf, method, test) {
  res <- rma(yi, vi, data = dat, method = method, test = test)
  pr <- predict(res, transf = transf)
  list(method = method, test = test, k = res$k,
       estimate = unname(pr$pred), ci_low = unname(pr$ci.lb), ci_high = unname(pr$ci.ub),
       pi_low = unname(pr$pi.lb), pi_high = unname(pr$pi.ub),
       estimate_model_scale = unname(coef(res)), se_model_scale = res$se,
       tau2 = res$tau2, i2 = res$I2, q = res$QE, q_pval = res$QEp, pval = res$pval)
}

cumul_block <- function(dat, transf) {
  res <- rma(yi, vi, data = dat, method = "REML", test = "knha")
  cu <- cumul(res, order = dat$year, transf = transf)
  list(study = as.character(cu$slab), estimate = cu$estimate, ci_low = cu$ci.lb,
       ci_high = cu$ci.ub, tau2 = cu$tau2, i2 = cu$I2)
}

dataset <- function(dat, measure, transf, label) {
  dat <- dat[order(dat$year), ]
  list(label = label, measure = measure,
       study_id = as.character(dat$study), year = dat$year,
       yi = as.numeric(dat$yi), vi = as.numeric(dat$vi), n = dat$n,
       primary = fit_block(dat, transf, "REML", "knha"),
       dl_z = fit_block(dat, transf, "DL", "z"),
       cumulative = cumul_block(dat, transf))
}

# Correlations, pooled as Fisher z: the first 5 studies of dat.molloy2014 (Molloy et al. 2014).
m <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014[1:5, ])
m$study <- paste0(gsub("[^A-Za-z]", "", m$authors), m$year)
m$n <- m$ni
zcor <- dataset(m, "ZCOR", transf.ztor, "dat.molloy2014[1:5, ], ZCOR")

# Odds ratios, pooled as log OR: the first 4 trials of dat.bcg (Colditz et al. 1994).
b <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg[1:4, ])
b$study <- paste0(gsub("[^A-Za-z]", "", b$author), b$year)
b$n <- b$tpos + b$tneg + b$cpos + b$cneg
logor <- dataset(b, "logOR", exp, "dat.bcg[1:4, ], OR")

# Standardised mean differences: the first 3 studies of dat.normand1999 (Normand 1999).
s <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
            n2i = n2i, data = dat.normand1999[1:3, ])
s$study <- gsub("[^A-Za-z0-9]", "", s$source)
s$year <- seq_len(nrow(s))  # no years in this data set: keep the printed order
s$n <- s$n1i + s$n2i
smd <- dataset(s, "SMD", NULL, "dat.normand1999[1:3, ], SMD")

out <- list(
  generated_by = "tests/reference/synthesis_metafor.R",
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  datasets = list(zcor = zcor, logor = logor, smd = smd))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/synthesis_metafor.json")
