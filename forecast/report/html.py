"""``report.html``: the Markdown report as one self-contained HTML page.

The page needs nothing beside itself: figures are embedded as ``data:`` URIs, the style
sheet is inline, there are no scripts, fonts or links to fetch, and a Content Security
Policy forbids the browser to load anything else. The print style sheet gives A4/Letter
pages with tables and figures kept whole where they fit. User text reaches the page
escaped twice over: by the Markdown report's rule (:func:`forecast.core.escape.markdown`: no
link, image, raw HTML or control character can come from it) and by the renderer, which
shows any raw HTML as text; the page's title goes through :func:`forecast.core.escape.html`.
"""

from __future__ import annotations

import base64

from forecast.core.escape import html

#: The browser may load nothing but the page's own styles and embedded images.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """\
:root { --ink: #1b1b1b; --muted: #555; --rule: #c9c9c9; --head: #f2f4f7; --accent: #1f4e8c; }
html { font-size: 15px; }
body { font-family: "DejaVu Serif", Georgia, "Times New Roman", serif; color: var(--ink);
       line-height: 1.45; max-width: 62rem; margin: 2rem auto; padding: 0 1.2rem; }
h1, h2, h3 { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif;
             color: var(--accent); line-height: 1.2; }
h1 { font-size: 1.7rem; border-bottom: 2px solid var(--accent); padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid var(--rule); }
h3 { font-size: 1.08rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: .8rem 0 1.2rem; font-size: .84rem; width: 100%; }
th, td { border: 1px solid var(--rule); padding: .28rem .45rem; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: var(--head); text-align: left; }
td[style*="right"] { font-variant-numeric: tabular-nums; white-space: nowrap; }
img { display: block; max-width: 100%; height: auto; margin: .8rem auto 1.4rem; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em;
       overflow-wrap: anywhere; }
blockquote { margin: .5rem 0 .8rem 1rem; padding-left: .8rem; border-left: 3px solid var(--rule);
             color: var(--muted); }
ul { padding-left: 1.4rem; }
li { margin: .2rem 0; }
@media print {
  @page { size: auto; margin: 16mm 14mm 18mm; }
  html { font-size: 10.5pt; }
  body { max-width: none; margin: 0; padding: 0; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  h2 { margin-top: 1.4rem; }
  table, img, blockquote { break-inside: avoid; page-break-inside: avoid; }
  tr, li { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  img { max-height: 235mm; width: auto; }
  a { color: var(--ink); text-decoration: none; }
  a[href^="http"]::after { content: " (" attr(href) ")"; font-size: .8em; color: var(--muted);
                           overflow-wrap: anywhere; }
}
"""


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html_report(markdown_text: str, images: dict[str, bytes], title: str) -> str:
    """The report page: ``markdown_text`` rendered, each image named in ``images``
    embedded (an image the page names but ``images`` lacks keeps its alt text only, so the
    page never points at a file), ``title`` in the page's title."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    default_image = md.renderer.rules.get("image")

    def image(renderer, tokens, idx, options, env):
        token = tokens[idx]
        src = token.attrGet("src") or ""
        if src in images:
            token.attrSet("src", data_uri(images[src]))
            token.attrSet("loading", "eager")
            return default_image(tokens, idx, options, env)
        alt = html(token.content or src)
        return f'<em class="missing-figure">[figure not included: {alt}]</em>'

    md.add_render_rule("image", image)
    body = md.render(markdown_text)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html(title, 300)}</title>\n"
        f"<style>\n{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
