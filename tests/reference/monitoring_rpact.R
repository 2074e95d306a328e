# Reference boundaries for analysis.monitoring: two-sided group-sequential designs with
# Lan-DeMets O'Brien-Fleming-type alpha spending, computed by rpact.
# Run from the repository root:  Rscript tests/reference/monitoring_rpact.R
# Writes tests/reference/monitoring_rpact.json (the exact call is stored with each case).
suppressPackageStartupMessages({
  library(rpact)
  library(jsonlite)
})

cases <- list(
  list(alpha = 0.05, rates = c(0.2, 0.5, 1)),
  list(alpha = 0.05, rates = c(0.3, 0.6, 0.8, 1)),
  list(alpha = 0.05, rates = c(0.1, 0.25, 0.5, 0.75, 1)),
  list(alpha = 0.05, rates = c(0.5, 1)),
  list(alpha = 0.05, rates = c(0.12, 0.47, 0.66, 0.9, 1)),
  list(alpha = 0.01, rates = c(0.25, 0.5, 0.75, 1)),
  list(alpha = 0.05, rates = c(0.4, 0.45, 1))
)

out <- lapply(cases, function(case) {
  design <- getDesignGroupSequential(kMax = length(case$rates), alpha = case$alpha, sided = 2,
                                     typeOfDesign = "asOF", informationRates = case$rates)
  list(
    call = sprintf("getDesignGroupSequential(kMax = %d, alpha = %s, sided = 2, typeOfDesign = \"asOF\", informationRates = c(%s))",
                   length(case$rates), format(case$alpha), paste(format(case$rates), collapse = ", ")),
    alpha = case$alpha,
    information_rates = case$rates,
    critical_values = as.numeric(design$criticalValues),
    alpha_spent = as.numeric(design$alphaSpent)
  )
})

result <- list(
  generated_by = "tests/reference/monitoring_rpact.R",
  r_version = R.version.string,
  rpact_version = as.character(packageVersion("rpact")),
  note = paste("Two-sided symmetric boundaries (z scale); alpha_spent is the cumulative",
               "two-sided alpha spent by each look."),
  cases = out
)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/monitoring_rpact.json")
