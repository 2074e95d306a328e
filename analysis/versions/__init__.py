"""The living review's versions: the release log, its archive and the release command,
living-mode parameters, per-outcome conclusions, what's new, sequential monitoring, the
PRISMA-LSR checklist, and requests for the numbers that missing full texts hold."""
