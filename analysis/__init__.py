"""The analysis package of the living review.

Data flows one way: ``data/`` (what people write) -> this package (reads, validates,
computes) -> the book's notebooks (show and glue). One subpackage per stage, each importing
only the stages before it (``tests/test_layout.py`` holds the order):

``questions``, ``measures``  the registry of questions and analyses; the table of measures
``engine/``      the meta-analysis engine: numbers in, frozen results out
``io/``          data/: paths, schemas, the one checked reader (``validate.load``), the
                 transactional writer, the data fingerprint
``search/``      search exports: one reader per format, normalisation, deduplication, records
``reviewers/``   two reviewers: agreement (kappa) and reconciliation
``selection/``   screening decisions, the queue, PRISMA flow counts
``evidence/``    effect sizes from printed statistics, arm counts, risk of bias, GRADE tables,
                 the audit of the published reviews
``pooling/``     each registered analysis pooled (a frozen ``Pooled``), the small-k panel,
                 what a result may show
``figures/``     one module per figure family: ``f(result, ax=None) -> Figure``
``review``       the review object: every stage computed once per data version, then held
``findings/``    what the held results say: computed GRADE domains, routes and scenarios, the
                 comparison with the published reviews
``versions/``    the living review: release log and archive, living mode, conclusions, what's
                 new, monitoring, PRISMA-LSR, requests for missing numbers
``views/``       the book's glue: tables, text, figures and glued values for the chapters
``commands/``    ``python -m analysis``: the authors' commands, the whole-review ``check``; the
                 only modules that print
"""
__version__ = "1.0.0"

import os as _os

if _os.environ.get("REVIEW_INPUT_LOG"):  # set by `make notebooks` while it executes a chapter
    from .views.chapter_inputs import record_reads as _record_reads

    _record_reads(_os.environ["REVIEW_INPUT_LOG"])
