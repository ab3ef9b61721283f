"""Rules of the interface's own code that a reader can check without a browser (docs/ui.md): nothing
that parses HTML or evaluates strings, no inline style or script, no third-party or cross-origin
reference, every icon drawn exists, and the colours of both themes meet WCAG AA contrast."""
import glob
import os
import re

from conftest import WEB

JS = sorted(glob.glob(os.path.join(WEB, "assets", "js", "**", "*.js"), recursive=True))
CSS = open(os.path.join(WEB, "assets", "app.css")).read()
HTML = open(os.path.join(WEB, "index.html")).read()


def test_no_html_parsing_eval_or_inline_style_in_scripts():
    forbidden = [r"\.innerHTML", r"\.outerHTML", r"insertAdjacentHTML", r"document\.write", r"\beval\s*\(",
                 r"new\s+Function\b", r"\.style\.", r"setAttribute\(\s*['\"]style", r"localStorage\.(set|get)Item",
                 r"sessionStorage\.", r"DOMParser", r"createContextualFragment", r"setTimeout\(\s*['\"]",
                 r"import\s*\(\s*[^'\"./]", r"https?://[A-Za-z0-9]"]
    assert len(JS) >= 10
    for path in JS:
        src = open(path).read()
        for pattern in forbidden:
            assert not re.search(pattern, src), f"{os.path.relpath(path, WEB)}: {pattern}"
        # Every import is one of our own files, by a relative path.
        for spec in re.findall(r"^\s*(?:import|export)\b[^'\"]*from\s+['\"]([^'\"]+)['\"]", src, re.M):
            assert spec.startswith("./") or spec.startswith("../"), (path, spec)
            assert os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), spec))), (path, spec)


def test_shell_has_nothing_inline_and_nothing_foreign():
    assert "style=" not in HTML and "<style" not in HTML
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", HTML, re.S):
        assert tag.strip() == ""
    assert re.search(r'<script type="module" src="/ui/assets/js/main.js"></script>', HTML)
    for url in re.findall(r'(?:src|href)="([^"]+)"', HTML):
        assert url.startswith("/ui/assets/") or url == "#main", url
        if url.startswith("/ui/"):
            assert os.path.exists(os.path.join(WEB, url[len("/ui/"):])), url
    assert not re.search(r"\son[a-z]+\s*=", HTML), "no inline event handler"


def test_every_icon_used_exists():
    used = set()
    for path in JS:
        used |= set(re.findall(r"icon\('([a-z-]+)'\)", open(path).read()))
    drawn = set(re.findall(r"\.i-([a-z-]+)\s*\{\s*mask-image:\s*url\(icons/\1\.svg\)", CSS))
    assert used and used <= drawn, used - drawn
    for name in drawn:
        svg = open(os.path.join(WEB, "assets", "icons", name + ".svg")).read()
        assert svg.startswith("<svg ") and "<script" not in svg and "href" not in svg, name
    assert not re.search(r"url\((?!icons/)", CSS), "the stylesheet loads only our icons"
    assert "@import" not in CSS


def luminance(hex_color):
    rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b):
    la, lb = sorted([luminance(a), luminance(b)], reverse=True)
    return (la + 0.05) / (lb + 0.05)


def theme(block):
    return dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-f]{6});", block))


def test_both_themes_meet_wcag_aa_contrast():
    light = theme(CSS.split("@media (prefers-color-scheme: dark)")[0])
    dark = dict(light, **theme(CSS.split("@media (prefers-color-scheme: dark)")[1].split("}\n}")[0]))
    pairs = [("text", "bg"), ("text", "surface"), ("text", "surface-2"), ("muted", "bg"), ("muted", "surface"),
             ("muted", "surface-2"), ("link", "surface"), ("link", "bg"), ("on-accent", "accent"),
             ("on-accent", "accent-hover"), ("success", "surface"), ("success", "success-soft"),
             ("text", "danger-soft"), ("text", "info-soft"), ("text", "warn-soft"), ("text", "success-soft"),
             ("link", "info-soft")]
    for name, colours in [("light", light), ("dark", dark)]:
        for fg, bg in pairs:
            ratio = contrast(colours[fg], colours[bg])
            assert ratio >= 4.5, f"{name}: --{fg} on --{bg} is {ratio:.2f}:1"
        # White text on the danger button; the focus ring against the page (non-text: 3:1).
        assert contrast("#ffffff", colours["danger"]) >= 4.5, name
        assert contrast(colours["focus"], colours["bg"]) >= 3 and contrast(colours["focus"], colours["surface"]) >= 3, name
    assert contrast(light["danger"], light["surface"]) >= 4.5  # field errors in the light theme
    assert contrast("#ff9a90", dark["surface"]) >= 4.5         # and in the dark one
