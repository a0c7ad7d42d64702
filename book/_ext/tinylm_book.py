"""A local Sphinx extension for the book (book/_config.yml, `sphinx: local_extensions`).

Sphinx 7.4 writes every inline script an extension registered late twice: `prepare_writing`
re-adds the registry's scripts as `add_js_file(js_filename or '', ...)`, and an inline script
registered with filename None then no longer equals its first copy (filename ''). Each page
got sphinx-thebe's `const THEBE_JS_URL = ...` twice (a SyntaxError in the console: "Identifier
'THEBE_JS_URL' has already been declared") and sphinx-togglebutton's settings twice. Here each
page keeps the first of scripts that are the same but for None versus ''. It also names the
colour mode the theme's script expects (see _page_context).
"""

from __future__ import annotations


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", script) or "",
            tuple(sorted((k, str(v)) for k, v in attributes.items())))


def unique_scripts(scripts: list) -> list:
    """`scripts` without repeats (the first of each kept, order kept)."""
    seen, out = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            out.append(script)
    return out


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])
    # pydata-sphinx-theme writes `default_mode` into each page, empty unless set, and its
    # script then logs "Got invalid theme mode: . Resetting to auto.": say "auto" outright.
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def setup(app):
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
