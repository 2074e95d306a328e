"""What the pooled results say, read from the review object: the GRADE domains the numbers
decide (imprecision, inconsistency), the route each pooled measure takes and what each scenario
tests, and the comparison with the published reviews."""
