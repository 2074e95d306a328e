"""Two reviewers: the second reviewer's forms, agreement (Cohen's kappa, numbers agreeing), and the reconciliation that decides what is pooled."""
