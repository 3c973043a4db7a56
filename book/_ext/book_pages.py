"""A Sphinx extension of this book: every script of a page loaded once.

sphinx-thebe (which jupyter-book 1.x always loads) adds its inline configuration,
``const THEBE_JS_URL = ...``, to the page's scripts at every reading of the sources, so a page held
it two or three times and the browser stopped at the second with "Identifier 'THEBE_JS_URL' has
already been declared". The book does not use thebe, but its scripts stay, once each.
"""

from __future__ import annotations


def _once(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # the same file or inline body (an inline script's file name is None or ""), whatever its priority
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept


def setup(app):
    app.connect("html-page-context", _once, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
