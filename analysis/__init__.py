"""The analysis package of the living review.

Data flows one way: ``data/`` (what people write) -> this package (reads, validates,
computes; one module per stage) -> the book's notebooks (show and glue).
"""
__version__ = "1.0.0"

import os as _os

if _os.environ.get("REVIEW_INPUT_LOG"):  # set by `make notebooks` while it executes a chapter
    from .views.chapter_inputs import record_reads as _record_reads

    _record_reads(_os.environ["REVIEW_INPUT_LOG"])
