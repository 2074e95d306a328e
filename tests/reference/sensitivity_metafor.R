# Reference values for tests/test_sensitivity.py, produced once with:
#   Rscript tests/reference/sensitivity_metafor.R
# It writes tests/reference/sensitivity_metafor.json: the inputs and the outputs of
# metafor's leave1out(), influence(), baujat(), cumul(), trimfill(), regtest(), ranktest(),
# gosh() and exact permutest() on datasets shipped with metafor:
#   dat.bcg: BCG vaccine trials (Colditz et al. 1994, JAMA 271:698-702), log risk ratios.
#   dat.hackshaw1998: passive smoking and lung cancer (Hackshaw et al. 1997, BMJ 315:980-988),
#     log odds ratios, k = 37 (enough studies for the small-study tests).
#   dat.mcdaniel1994: validity of employment interviews (McDaniel et al. 1994), Fisher z, k = 160.
# Iterative estimators are run with a tight convergence threshold (1e-10) so that the
# references are the optimum itself rather than metafor's default stopping point (1e-5).
library(metafor)
library(jsonlite)

ctrl <- list(threshold = 1e-10, maxiter = 1000)
out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/sensitivity_metafor.R",
  control = ctrl
)
num <- function(x) as.numeric(x)

bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
out$bcg <- list(call = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)',
                yi = num(bcg$yi), vi = num(bcg$vi), year = dat.bcg$year,
                ablat = dat.bcg$ablat, labels = paste(dat.bcg$author, dat.bcg$year))
hs <- dat.hackshaw1998
out$hackshaw <- list(call = 'dat.hackshaw1998 (yi, vi as shipped: log odds ratios)',
                     yi = num(hs$yi), vi = num(hs$vi))

fit <- function(yi, vi, method, test = "z", ...) rma(yi, vi, method = method, test = test,
                                                     control = ctrl, ...)
l1o_list <- function(l) list(estimate = num(l$estimate), se = num(l$se),
                            pval = num(l$pval), ci_low = num(l$ci.lb), ci_high = num(l$ci.ub),
                            q = num(l$Q), q_pval = num(l$Qp),
                            tau2 = if (is.null(l$tau2)) rep(0, length(l$estimate)) else num(l$tau2),
                            i2 = num(l$I2), h2 = num(l$H2))
fit_list <- function(r) list(estimate = num(r$beta[1]), se = num(r$se[1]), tau2 = num(r$tau2),
                             q = num(r$QE), i2 = num(r$I2), pval = num(r$pval[1]),
                             ci_low = num(r$ci.lb[1]), ci_high = num(r$ci.ub[1]))

# leave1out, influence, baujat, cumul for several estimators / tests
for (spec in list(c("REML", "z"), c("DL", "z"), c("FE", "z"), c("REML", "knha"), c("PM", "z"))) {
  method <- spec[1]; test <- spec[2]
  name <- paste0(method, "_", test)
  r <- fit(bcg$yi, bcg$vi, method, test)
  inf <- influence(r)
  bj <- baujat(r)
  cm <- cumul(r, order = dat.bcg$year)
  out$fits[[name]] <- list(
    call = sprintf('rma(yi, vi, method="%s", test="%s", control=ctrl)', method, test),
    full = fit_list(r),
    leave1out = l1o_list(leave1out(r)),
    influence = list(rstudent = num(inf$inf$rstudent), dffits = num(inf$inf$dffits),
                     cook_d = num(inf$inf$cook.d), cov_r = num(inf$inf$cov.r),
                     tau2_del = num(inf$inf$tau2.del), qe_del = num(inf$inf$QE.del),
                     hat = num(inf$inf$hat), weight = num(inf$inf$weight),
                     dfbetas = num(inf$dfbs$intrcpt), influential = as.logical(inf$is.infl)),
    baujat = list(x = num(bj$x), y = num(bj$y)),
    cumul = c(l1o_list(cm), list(order_call = "cumul(res, order=dat.bcg$year)",
                                 slab = as.character(cm$slab)))
  )
}

# trim-and-fill
for (spec in list(c("bcg", "FE", "L0"), c("bcg", "REML", "L0"), c("bcg", "REML", "R0"),
                  c("bcg", "DL", "R0"),
                  c("hackshaw", "FE", "L0"), c("hackshaw", "REML", "L0"),
                  c("hackshaw", "REML", "R0"))) {
  d <- if (spec[1] == "bcg") bcg else hs
  r <- fit(d$yi, d$vi, spec[2])
  tf <- trimfill(r, estimator = spec[3])
  out$trimfill[[paste(spec, collapse = "_")]] <- list(
    call = sprintf('trimfill(rma(yi, vi, method="%s"), estimator="%s")', spec[2], spec[3]),
    k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side,
    p_k0 = if (is.null(tf$p.k0)) NA else num(tf$p.k0),
    yi = num(tf$yi), vi = num(tf$vi), fill = as.logical(tf$fill),
    estimate = num(tf$beta[1]), se = num(tf$se), tau2 = num(tf$tau2),
    ci_low = num(tf$ci.lb), ci_high = num(tf$ci.ub), pval = num(tf$pval))
}
# side given explicitly
r <- fit(bcg$yi, bcg$vi, "FE")
tf <- trimfill(r, side = "right")
out$trimfill$bcg_FE_L0_right <- list(call = 'trimfill(rma(yi, vi, method="FE"), side="right")',
  k0 = tf$k0, se_k0 = num(tf$se.k0), side = tf$side, yi = num(tf$yi), vi = num(tf$vi),
  fill = as.logical(tf$fill), estimate = num(tf$beta[1]), se = num(tf$se), tau2 = num(tf$tau2))

# Egger's regression test (model "rma" with predictor sei, and the classical weighted "lm")
# and Begg's rank correlation test
for (dn in c("bcg", "hackshaw")) {
  d <- if (dn == "bcg") bcg else hs
  for (method in c("REML", "FE", "DL")) {
    rt <- regtest(fit(d$yi, d$vi, method))
    out$regtest[[paste0(dn, "_rma_", method)]] <- list(
      call = sprintf('regtest(rma(yi, vi, method="%s"), model="rma", predictor="sei")', method),
      zval = num(rt$zval), pval = num(rt$pval), est = num(rt$est),
      ci_low = num(rt$ci.lb), ci_high = num(rt$ci.ub),
      slope = num(coef(rt$fit)[2]), tau2 = num(rt$fit$tau2))
  }
  rt <- regtest(d$yi, d$vi, model = "lm")
  out$regtest[[paste0(dn, "_lm")]] <- list(call = 'regtest(yi, vi, model="lm")',
    tval = num(rt$zval), pval = num(rt$pval), dfs = num(rt$dfs), est = num(rt$est),
    ci_low = num(rt$ci.lb), ci_high = num(rt$ci.ub), slope = num(coef(rt$fit)[2]))
  rk <- ranktest(d$yi, d$vi)
  out$ranktest[[dn]] <- list(call = "ranktest(yi, vi)", tau = num(rk$tau), pval = num(rk$pval))
  # PET and PEESE: weighted least squares of yi on sei and on vi (Stanley & Doucouliagos 2014)
  pet <- summary(lm(d$yi ~ sqrt(d$vi), weights = 1 / d$vi))$coefficients
  peese <- summary(lm(d$yi ~ d$vi, weights = 1 / d$vi))$coefficients
  out$petpeese[[dn]] <- list(call = "lm(yi ~ sqrt(vi), weights=1/vi); lm(yi ~ vi, weights=1/vi)",
    pet = list(estimate = num(pet[1, 1]), se = num(pet[1, 2]), tval = num(pet[1, 3]),
               pval = num(pet[1, 4]), slope = num(pet[2, 1])),
    peese = list(estimate = num(peese[1, 1]), se = num(peese[1, 2]), tval = num(peese[1, 3]),
                 pval = num(peese[1, 4]), slope = num(peese[2, 1])))
}

# PET-PEESE on a larger set of correlations: employment interview validity
# (McDaniel et al. 1994, J Appl Psychol 79:599-616; dat.mcdaniel1994, Fisher z)
mc <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.mcdaniel1994)
out$mcdaniel <- list(call = 'escalc(measure="ZCOR", ri=ri, ni=ni, data=dat.mcdaniel1994)',
                     yi = num(mc$yi), vi = num(mc$vi))
pet <- summary(lm(mc$yi ~ sqrt(mc$vi), weights = 1 / mc$vi))$coefficients
peese <- summary(lm(mc$yi ~ mc$vi, weights = 1 / mc$vi))$coefficients
out$petpeese$mcdaniel <- list(call = "lm(yi ~ sqrt(vi), weights=1/vi); lm(yi ~ vi, weights=1/vi)",
  pet = list(estimate = num(pet[1, 1]), se = num(pet[1, 2]), tval = num(pet[1, 3]),
             pval = num(pet[1, 4]), slope = num(pet[2, 1])),
  peese = list(estimate = num(peese[1, 1]), se = num(peese[1, 2]), tval = num(peese[1, 3]),
               pval = num(peese[1, 4]), slope = num(peese[2, 1])))

# GOSH over all 63 subsets of the first six BCG trials
for (method in c("FE", "DL", "REML")) {
  r <- fit(bcg$yi[1:6], bcg$vi[1:6], method)
  g <- gosh(r)
  out$gosh[[method]] <- list(call = sprintf('gosh(rma(yi[1:6], vi[1:6], method="%s"))', method),
    incl = unname(apply(g$incl, 1, function(z) sum(2^(which(z) - 1)))),
    k = num(g$res$k), q = num(g$res$QE), i2 = num(g$res$I2), h2 = num(g$res$H2),
    tau2 = num(g$res$tau2), estimate = num(g$res$estimate))
}

# Exact permutation tests (all 2^6 sign flips; all 6! orderings of the moderator)
y6 <- bcg$yi[1:6]; v6 <- bcg$vi[1:6]; a6 <- dat.bcg$ablat[1:6]
for (method in c("REML", "DL", "FE")) {
  p0 <- permutest(fit(y6, v6, method), exact = TRUE)
  p1 <- permutest(fit(y6, v6, method, mods = ~ a6), exact = TRUE)
  out$permutest[[method]] <- list(
    call = sprintf('permutest(rma(yi[1:6], vi[1:6], method="%s"), exact=TRUE); same with mods=~ablat[1:6]', method),
    int_only = list(zval = num(p0$zval), pval = num(p0$pval), n_perm = 2^6),
    mods = list(zval = num(p1$zval), pval = num(p1$pval), QM = num(p1$QM), QMp = num(p1$QMp),
                n_perm = 360))  # 6!/2!: ablat[1:6] has one tie
}

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/sensitivity_metafor.json")
