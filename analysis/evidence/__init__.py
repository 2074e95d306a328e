"""The evidence tables: effect sizes from printed statistics by one route (extraction,
conversions), participants per arm, risk of bias, the GRADE judgements as the reviewers recorded
them, and the audit of the published reviews' printed numbers."""
