"""The review's analyses on the engine: each registered analysis and scenario pooled into a
frozen ``Pooled`` (synthesis), the small-k inference panel, and what a result may show."""
