# metafor's values for the meta-regression cases (metareg_cases.csv) and for the pooled
# estimators on the same tables: the reference tests/test_metareg.py compares with.
# Run from the repository root: Rscript tests/data/metafor_reference.R [OUTDIR]
# (Debian: apt-get install r-cran-metafor). Writes OUTDIR/metareg_metafor.csv and
# OUTDIR/pooled_metafor.csv (default OUTDIR: tests/data).
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/data"
cases <- read.csv("tests/data/metareg_cases.csv", stringsAsFactors = FALSE)
reg <- list()
pooled <- list()
for (name in unique(cases$case)) {
  d <- cases[cases$case == name, ]
  for (test in c("knha", "z")) {
    fit <- rma(yi, vi, mods = ~ x, data = d, method = "REML", test = test,
               control = list(threshold = 1e-12, maxiter = 10000))
    r2 <- if (is.null(fit$R2) || is.na(fit$R2)) NA else fit$R2
    reg[[length(reg) + 1]] <- data.frame(
      case = name, test = test, intercept = fit$beta[1], slope = fit$beta[2],
      intercept_se = fit$se[1], slope_se = fit$se[2], slope_ci_low = fit$ci.lb[2],
      slope_ci_high = fit$ci.ub[2], slope_p = fit$pval[2], tau2 = fit$tau2, r2 = r2)
  }
  for (method in c("FE", "DL", "REML", "ML", "PM", "HE")) {
    for (test in c("z", "knha")) {
      fit <- rma(yi, vi, data = d, method = method, test = test,
                 control = list(threshold = 1e-12, maxiter = 10000))
      pooled[[length(pooled) + 1]] <- data.frame(
        case = name, method = method, test = test, estimate = fit$beta[1], se = fit$se,
        ci_low = fit$ci.lb, ci_high = fit$ci.ub, tau2 = fit$tau2)
    }
  }
}
write.csv(do.call(rbind, reg), file.path(out, "metareg_metafor.csv"), row.names = FALSE)
write.csv(do.call(rbind, pooled), file.path(out, "pooled_metafor.csv"), row.names = FALSE)
