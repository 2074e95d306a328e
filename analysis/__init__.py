"""The analysis package of the living review.

Data flows one way: ``data/`` (what people write) -> this package (reads, validates,
computes; one module per stage) -> the book's notebooks (show and glue).
"""
__version__ = "1.0.0"
