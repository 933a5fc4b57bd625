# rpact's group-sequential boundaries for the designs of tsa_designs.csv, given the
# same spending (typeOfDesign = "asUser", typeBetaSpending = "bsUser"): the reference
# tests/test_sequential_rpact.py compares with. The TSA convention spends alpha
# two-sided, 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)), which is not rpact's own "asOF"; so
# the cumulative spending is computed here by each function's formula and handed over.
# Run from the repository root: Rscript tests/data/rpact_reference.R [OUTDIR]
# (Debian: apt-get install r-cran-rpact). Writes OUTDIR/tsa_rpact.csv.
suppressPackageStartupMessages(library(rpact))
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else "tests/data"
designs <- read.csv("tests/data/tsa_designs.csv", stringsAsFactors = FALSE)
spend <- function(t, a, kind, gamma) {
  if (kind == "obf") return(2 - 2 * pnorm(qnorm(1 - a / 2) / sqrt(t)))
  if (kind == "pocock") return(a * log(1 + (exp(1) - 1) * t))
  if (abs(gamma) < 1e-12) return(a * t)
  a * (1 - exp(-gamma * t)) / (1 - exp(-gamma))
}
rows <- list()
for (i in seq_len(nrow(designs))) {
  d <- designs[i, ]
  t <- as.numeric(strsplit(d$fractions, " ")[[1]])
  k <- length(t)
  if (d$futility == "none") {
    g <- getDesignGroupSequential(kMax = k, alpha = d$alpha, sided = 2, informationRates = t,
      typeOfDesign = "asUser",
      userAlphaSpending = pmin(spend(t, d$alpha, d$kind, d$gamma), d$alpha))
    fut <- rep(NA, k)
    shift <- NA
  } else {
    g <- getDesignGroupSequential(kMax = k, alpha = d$alpha / 2, beta = d$beta, sided = 1,
      informationRates = t, typeOfDesign = "asUser",
      userAlphaSpending = pmin(spend(t, d$alpha, d$kind, d$gamma) / 2, d$alpha / 2),
      typeBetaSpending = "bsUser",
      userBetaSpending = pmin(spend(t, d$beta, d$kind, d$gamma), d$beta),
      bindingFutility = d$futility == "binding")
    fut <- c(g$futilityBounds, g$criticalValues[k])
    shift <- getDesignCharacteristics(g)$shift
  }
  rows[[i]] <- data.frame(design = d$design, look = seq_len(k), efficacy = g$criticalValues,
                          futility = fut, shift = shift)
}
write.csv(do.call(rbind, rows), file.path(out, "tsa_rpact.csv"), row.names = FALSE)
