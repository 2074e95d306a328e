"""The review's analyses on the engine: each registered analysis and scenario pooled, the small-k panel, what a result may show, and the comparison with the published reviews."""
