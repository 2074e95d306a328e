"""Figures: each takes a result it is handed (and ax=) and returns the Figure; figure_embed puts them on the page."""
