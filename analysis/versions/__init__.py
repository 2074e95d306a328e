"""The living review's versions: the release log and its files, living-mode parameters, per-outcome conclusions, what's new, sequential monitoring and the PRISMA-LSR checklist."""
