"""Two reviewers: agreement (Cohen's kappa, numbers agreeing within their printed precision) and
the reconciliation that decides what is pooled. Their forms are an author command
(:mod:`analysis.commands.review_forms`)."""
