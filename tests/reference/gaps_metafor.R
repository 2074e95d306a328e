# Reference values for tests/test_gaps.py and tests/test_panel.py, produced once with:
#   Rscript tests/reference/gaps_metafor.R
# It writes tests/reference/gaps_metafor.json: metafor's answers in the cases where a fit
# fails, where k is 2 or 3, with repeated study labels, its fit statistics (fitstats), the
# Knapp-Hartung factor s2w, Q-profile intervals at a given tolerance, trim-and-fill with its
# control passed on, and the frequentist rows of the small-k panel (common effect, DL with z,
# REML with Knapp-Hartung and with the ad hoc floor; prediction intervals with z, t(k-1) and
# t(k-2)).
#   dat.bcg: BCG vaccine trials (Colditz et al. 1994, JAMA 271:698-702), log risk ratios.
#   dat.nielweise2007: chlorhexidine-impregnated catheters (Niel-Weise et al. 2007), log ORs.
library(metafor)
library(jsonlite)

out <- list(
  R_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  generated_by = "tests/reference/gaps_metafor.R"
)
num <- function(x) as.numeric(x)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
out$bcg <- list(yi = num(bcg$yi), vi = num(bcg$vi))
nw <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.nielweise2007)
out$nielweise <- list(call = 'escalc(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat.nielweise2007)',
                      yi = num(nw$yi), vi = num(nw$vi))

# 1. cumulative and leave-one-out REML where a refit does not converge: NA rows
cm <- suppressWarnings(cumul(rma(yi, vi, data = nw)))
l1 <- suppressWarnings(leave1out(rma(yi, vi, data = nw)))
rows <- function(l) list(estimate = num(l$estimate), se = num(l$se), pval = num(l$pval),
                         ci_low = num(l$ci.lb), ci_high = num(l$ci.ub), tau2 = num(l$tau2),
                         i2 = num(l$I2), q = num(l$Q))
out$nielweise_cumul <- c(list(call = "cumul(rma(yi, vi, data=nw))"), rows(cm))
out$nielweise_l1o <- c(list(call = "leave1out(rma(yi, vi, data=nw))"), rows(l1))

tf_list <- function(tf) list(k0 = tf$k0, side = tf$side, yi = num(tf$yi), vi = num(tf$vi),
                             estimate = num(tf$beta[1]), se = num(tf$se), tau2 = num(tf$tau2),
                             ci_low = num(tf$ci.lb), ci_high = num(tf$ci.ub), pval = num(tf$pval),
                             i2 = num(tf$I2))
# 2. trim-and-fill with the control passed on to its refits
ctrl <- list(threshold = 1e-10, maxiter = 1000)
out$trimfill_control <- c(list(call = "trimfill(rma(yi, vi, data=bcg, control=ctrl), control=ctrl)",
                               control = ctrl),
                          tf_list(trimfill(rma(yi, vi, data = bcg, control = ctrl), control = ctrl)))
# 2b. ... and the root-finding tolerance of Paule-Mandel refits
hs <- dat.hackshaw1998
out$trimfill_pm_tol <- c(list(call = 'trimfill(rma(yi, vi, data=dat.hackshaw1998, method="PM"), control=list(tol=1e-3))',
                              tol = 1e-3, data_yi = num(hs$yi), data_vi = num(hs$vi)),
                         tf_list(trimfill(rma(yi, vi, data = hs, method = "PM"), control = list(tol = 1e-3))))
# 3. trim-and-fill (REML) on trials 1, 7 and 13: k0 = 2, the one-study truncated set
b3 <- bcg[c(1, 7, 13), ]
out$trimfill_k3 <- c(list(call = "trimfill(rma(yi, vi, data=bcg[c(1, 7, 13), ]))", rows = c(1, 7, 13)),
                     tf_list(trimfill(rma(yi, vi, data = b3))))
# 4. a refit that does not converge stops trim-and-fill
msg <- tryCatch({trimfill(rma(yi, vi, data = bcg), control = list(maxiter = 1)); "no error"},
                error = function(e) conditionMessage(e))
out$trimfill_fails <- list(call = "trimfill(rma(yi, vi, data=bcg), control=list(maxiter=1))",
                           error = msg)

# 5. k = 2: Egger (FE meta-regression and classical lm), rank test, FE trim-and-fill
b2 <- bcg[1:2, ]
r2 <- rma(yi, vi, data = b2, method = "FE")
rt <- regtest(r2)
rl <- regtest(r2, model = "lm")
rk <- ranktest(r2)
tf2 <- trimfill(r2)
out$k2 <- list(
  call = "bcg[1:2, ]: regtest(rma(yi, vi, method='FE')); regtest(..., model='lm'); ranktest(); trimfill()",
  regtest_fe = list(zval = num(rt$zval), pval = num(rt$pval), est = num(rt$est),
                    ci_low = num(rt$ci.lb), ci_high = num(rt$ci.ub), slope = num(rt$fit$beta[2])),
  regtest_lm = list(zval = num(rl$zval), pval = num(rl$pval), dfs = num(rl$dfs),
                    est = num(rl$est), ci_low = num(rl$ci.lb), ci_high = num(rl$ci.ub),
                    slope = num(coef(rl$fit)[2])),
  ranktest = list(tau = num(rk$tau), pval = num(rk$pval)),
  trimfill_fe = tf_list(tf2))

# 6. repeated study labels
slab <- c("Guckin 1992", "Guckin 1992", "Smith 2001", "Smith 2001", "Smith 2001", "Jones 1999")
l6 <- leave1out(rma(yi, vi, data = bcg[1:6, ], slab = slab))
out$labels <- list(given = slab, made_unique = as.character(l6$slab))

# 7. fit statistics, s2w, Q-profile interval at a given tolerance
for (method in c("REML", "ML", "DL", "FE")) {
  r <- rma(yi, vi, data = bcg, method = method)
  fs <- fitstats(r)
  out$fitstats[[method]] <- list(call = sprintf('fitstats(rma(yi, vi, data=bcg, method="%s"))', method),
                                 values = num(fs[, 1]), names = rownames(fs))
}
r <- rma(yi, vi, data = bcg, test = "knha")
out$s2w <- list(call = 'rma(yi, vi, data=bcg, test="knha")$s2w', value = num(r$s2w))
r <- rma(yi, vi, data = bcg)
ci_tight <- confint(r, control = list(tol = 1e-12))
ci_loose <- confint(r, control = list(tol = 1e-2))
out$tau2_ci <- list(call = "confint(rma(yi, vi, data=bcg), control=list(tol=...))",
                    tol = c(1e-12, 1e-2),
                    tight = num(ci_tight$random["tau^2", c("ci.lb", "ci.ub")]),
                    loose = num(ci_loose$random["tau^2", c("ci.lb", "ci.ub")]))

# 8. frequentist rows of the small-k panel
panel <- function(d) {
  k <- nrow(d)
  fe <- rma(yi, vi, data = d, method = "FE")
  dl <- rma(yi, vi, data = d, method = "DL")
  hk <- rma(yi, vi, data = d, method = "REML", test = "knha")
  ah <- rma(yi, vi, data = d, method = "REML", test = "adhoc")
  re <- rma(yi, vi, data = d, method = "REML")
  row <- function(r) { p <- predict(r)
    list(estimate = num(r$beta), ci_low = num(r$ci.lb), ci_high = num(r$ci.ub),
         pi_low = num(p$pi.lb), pi_high = num(p$pi.ub), tau2 = num(r$tau2)) }
  s <- sqrt(re$se^2 + re$tau2)
  pred <- function(q) list(pi_low = num(re$beta - q * s), pi_high = num(re$beta + q * s))
  list(k = k, yi = num(d$yi), vi = num(d$vi),
       common = row(fe), dl = row(dl), hksj = row(hk), hksj_adhoc = row(ah),
       reml = row(re),
       pred_z = pred(qnorm(0.975)), pred_t1 = pred(qt(0.975, k - 1)),
       pred_t2 = if (k > 2) pred(qt(0.975, k - 2)) else NULL,
       # P(new study's effect > 0) and > 0.2 under t(k-2), the REML fit
       p_new_t2 = if (k > 2) num(pt((re$beta - c(0, 0.2)) / s, k - 2)) else NULL)
}
out$panel <- list(
  call = "rma(yi, vi, data=d, method=...) for d = bcg[1:4, ] and bcg[c(1, 7, 13), ] and bcg[1:2, ]",
  bcg4 = panel(bcg[1:4, ]), bcg3 = panel(bcg[c(1, 7, 13), ]), bcg2 = panel(bcg[1:2, ]))

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/gaps_metafor.json")
