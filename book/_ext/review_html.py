"""Small corrections to the HTML pages of the book.

- sphinx-thebe registers its configuration script twice in this toolchain, and a browser
  then stops at "Identifier 'THEBE_JS_URL' has already been declared": keep each script once.
- The theme leaves the colour mode empty unless one is chosen, and its script then reports
  "Got invalid theme mode" as an error on every page: choose the light mode.
"""


def _tidy_page(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        # The same script can be registered twice at different priorities: compare what it
        # loads or runs, not where it sorts.
        # (an inline script may be registered with filename None once and "" the other time)
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((getattr(script, "attributes", None) or {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique
    if not context.get("default_mode"):
        context["default_mode"] = "light"


def setup(app):
    app.connect("html-page-context", _tidy_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
