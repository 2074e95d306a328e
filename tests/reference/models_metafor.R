# Reference values for tests/test_models.py, produced once with:
#   Rscript tests/reference/models_metafor.R
# It writes tests/reference/models_metafor.json: the data (yi, vi) and metafor's results
# with default control settings. Datasets ship with metafor; publications cited in the tests.
library(metafor)
library(jsonlite)

out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/models_metafor.R",
  datasets = list(), fits = list(), regressions = list(), subgroups = list(), robust = list()
)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
molloy <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
normand <- escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                  n2i = n2i, data = dat.normand1999)
hine <- escalc(measure = "RD", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.hine1989)
datasets <- list(
  bcg_rr = list(d = bcg, call = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)'),
  raudenbush1985 = list(d = dat.raudenbush1985, call = "dat.raudenbush1985 (yi, vi as shipped)"),
  molloy2014_zcor = list(d = molloy, call = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.molloy2014)'),
  normand1999_md = list(d = normand, call = 'escalc(measure="MD", ..., data=dat.normand1999)'),
  hine1989_rd = list(d = hine, call = 'escalc(measure="RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.hine1989)'),
  hackshaw1998 = list(d = dat.hackshaw1998, call = "dat.hackshaw1998 (yi, vi as shipped)")
)
for (nm in names(datasets)) {
  d <- datasets[[nm]]$d
  out$datasets[[nm]] <- list(call = datasets[[nm]]$call, yi = as.numeric(d$yi), vi = as.numeric(d$vi))
}

fit_record <- function(res) {
  pr <- predict(res)
  rec <- list(k = res$k, tau2 = res$tau2, se_tau2 = res$se.tau2, estimate = as.numeric(res$beta),
              se = res$se, statistic = res$zval, pval = res$pval, ci_low = res$ci.lb,
              ci_high = res$ci.ub, pi_low = pr$pi.lb, pi_high = pr$pi.ub, q = res$QE,
              q_pval = res$QEp, i2 = res$I2, h2 = res$H2, weights = as.numeric(weights(res)))
  if (!is.element(res$method, c("FE", "EE"))) {
    ci <- confint(res)$random
    rec$tau2_ci <- as.numeric(ci["tau^2", c("ci.lb", "ci.ub")])
    rec$i2_ci <- as.numeric(ci["I^2(%)", c("ci.lb", "ci.ub")])
    rec$h2_ci <- as.numeric(ci["H^2", c("ci.lb", "ci.ub")])
  }
  rec
}

methods <- c("FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
for (nm in names(datasets)) {
  d <- datasets[[nm]]$d
  for (m in methods) {
    for (test in c("z", "knha", "adhoc")) {
      if (test != "z" && !is.element(m, c("DL", "REML", "PM"))) next
      res <- suppressWarnings(rma(yi, vi, data = d, method = m, test = test))
      out$fits[[sprintf("%s|%s|%s", nm, m, test)]] <-
        c(list(call = sprintf('rma(yi, vi, method="%s", test="%s"); predict(); confint()', m, test)),
          fit_record(res))
    }
  }
}

# Mixed-effects meta-regression: BCG log risk ratios on absolute latitude and year
for (m in c("FE", "DL", "REML", "ML")) {
  for (test in c("z", "knha")) {
    if (m == "FE" && test == "knha") next
    res <- rma(yi, vi, mods = ~ ablat + year, data = bcg, method = m, test = test)
    out$regressions[[sprintf("bcg_ablat_year|%s|%s", m, test)]] <- list(
      call = sprintf('rma(yi, vi, mods = ~ ablat + year, data=bcg, method="%s", test="%s")', m, test),
      X = cbind(ablat = bcg$ablat, year = bcg$year), tau2 = res$tau2, se_tau2 = res$se.tau2,
      coef = as.numeric(res$beta), se = res$se, statistic = res$zval, pval = res$pval,
      ci_low = res$ci.lb, ci_high = res$ci.ub, qm = res$QM, qm_df = res$QMdf, qm_pval = res$QMp,
      qe = res$QE, qe_pval = res$QEp, i2 = res$I2, h2 = res$H2,
      r2 = if (is.null(res$R2)) NA else res$R2)
  }
}

# Subgroups: BCG trials by allocation method
grp <- as.character(bcg$alloc)
per <- lapply(split(seq_len(nrow(bcg)), grp), function(ix) rma(yi, vi, data = bcg[ix, ], method = "REML"))
est <- sapply(per, function(r) as.numeric(r$beta))
sei <- sapply(per, function(r) r$se)
between <- rma(est, sei = sei, mods = ~ factor(names(est)), method = "FE")
mixed <- rma(yi, vi, mods = ~ factor(alloc), data = bcg, method = "REML")
out$subgroups[["bcg_alloc|REML"]] <- list(
  call = paste("per-group rma(method='REML'); rma(est, sei=se, mods=~group, method='FE') for",
               "Q between; rma(yi, vi, mods=~factor(alloc), method='REML') for the mixed model"),
  groups = grp,
  group_estimates = as.list(est), group_se = as.list(sei),
  group_tau2 = lapply(per, function(r) r$tau2),
  q_between = between$QM, df_between = between$QMdf[1], p_between = between$QMp,
  mixed_qm = mixed$QM, mixed_qm_pval = mixed$QMp, mixed_tau2 = mixed$tau2)

# Cluster-robust variance: schools nested in districts
d <- dat.konstantopoulos2011
out$datasets[["konstantopoulos2011"]] <- list(call = "dat.konstantopoulos2011 (yi, vi as shipped)",
                                               yi = d$yi, vi = d$vi, district = d$district, year = d$year)
res <- rma(yi, vi, data = d, method = "REML")
rb <- robust(res, cluster = district)
out$robust[["konstantopoulos2011|REML"]] <- list(
  call = "robust(rma(yi, vi, data=dat.konstantopoulos2011), cluster=district)  # adjust=TRUE",
  tau2 = res$tau2, coef = as.numeric(rb$beta), se = rb$se, statistic = rb$zval, pval = rb$pval,
  ci_low = rb$ci.lb, ci_high = rb$ci.ub, df = rb$dfs, n_clusters = rb$n)
res <- rma(yi, vi, mods = ~ year, data = d, method = "REML")
rb <- robust(res, cluster = district)
out$robust[["konstantopoulos2011_year|REML"]] <- list(
  call = "robust(rma(yi, vi, mods=~year, data=dat.konstantopoulos2011), cluster=district)",
  tau2 = res$tau2, coef = as.numeric(rb$beta), se = rb$se, statistic = rb$zval, pval = rb$pval,
  ci_low = rb$ci.lb, ci_high = rb$ci.ub, df = rb$dfs, n_clusters = rb$n,
  qm = rb$QM, qm_df = rb$QMdf, qm_pval = rb$QMp)

# Three-level model (schools within districts) by REML
ml <- rma.mv(yi, vi, random = ~ 1 | district/school, data = d, method = "REML")
out$multilevel <- list(call = "rma.mv(yi, vi, random = ~ 1 | district/school, data=dat.konstantopoulos2011)",
                       school = d$school, sigma2 = ml$sigma2, estimate = as.numeric(ml$beta),
                       se = ml$se, ci_low = ml$ci.lb, ci_high = ml$ci.ub, logLik = as.numeric(logLik(ml)))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "tests/reference/models_metafor.json")
