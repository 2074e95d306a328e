"""Study selection: screening decisions, the queue and conflicts, full-text status, and the PRISMA counts that follow from them."""
