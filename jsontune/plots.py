"""An HTML template for ``dvc plots show`` that works offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, so the plots are blank without a
network. The committed template (``reports/templates/dvc_plots_offline.html``) inlines the three
libraries' minified builds from the npm registry, pinned by version and checked against the registry's
sha512 integrity. Because the template has no ``{scripts}`` placeholder, DVC's CDN ``<script src>``
tags are never inserted.

    python -m jsontune.plots build            # regenerate the template (runs `npm pack`)
    python -m jsontune.plots check FILE.html  # exit 1 if FILE loads any script or stylesheet over http(s)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

TEMPLATE = Path("reports/templates/dvc_plots_offline.html")
# name -> (version, file inside the npm tarball, the registry's dist.integrity)
PINS: dict[str, tuple[str, str, str]] = {
    "vega": ("5.33.1", "package/build/vega.min.js",
             "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw=="),
    "vega-lite": ("5.23.0", "package/build/vega-lite.min.js",
                  "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA=="),
    "vega-embed": ("6.29.0", "package/build/vega-embed.min.js",
                   "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q=="),
}
# DVC fills these in the template; an inlined library must not contain them by accident.
PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")
_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]+""",
                       re.I)

PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {{refresh_tag}}
    <title>jsontune plots</title>
{inline}
    <style>
        body {{ font-family: sans-serif; }}
        table {{ border-spacing: 15px; }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


class TemplateError(RuntimeError):
    """A downloaded library that does not match its pin, or cannot be inlined safely."""


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def library_source(name: str, tarball: Path) -> str:
    """The pinned file from an npm tarball, after checking the tarball's sha512."""
    version, member, expected = PINS[name]
    data = tarball.read_bytes()
    if integrity(data) != expected:
        raise TemplateError(f"{tarball}: sha512 does not match the pin for {name}@{version}")
    with tarfile.open(tarball, "r:gz") as tar:
        extracted = tar.extractfile(member)
        if extracted is None:
            raise TemplateError(f"{tarball}: {member} is not a file")
        source = extracted.read().decode("utf-8")
    for marker in PLACEHOLDERS:
        if marker in source:
            raise TemplateError(f"{name}@{version} contains DVC's placeholder {marker}")
    # A source-map comment would make browser dev tools look for a .map file that is not there.
    source = re.sub(r"^//# sourceMappingURL=.*$", "", source, flags=re.M)
    # Inside an inline <script>, "</script" would end the element early and "<!--" changes how the HTML
    # parser reads it; neither occurs in the pinned builds, and a rewrite could change the code.
    for marker in ("</script", "<!--"):
        if marker in source.lower():
            raise TemplateError(f"{name}@{version} contains {marker!r}, which cannot be inlined in <script>")
    return source


def build_template(tarballs: Mapping[str, Path]) -> str:
    parts = []
    for name in PINS:
        version = PINS[name][0]
        parts.append(f"    <!-- {name}@{version} (npm, {PINS[name][1]}) -->\n"
                     f"    <script type=\"text/javascript\">\n{library_source(name, tarballs[name])}\n    </script>")
    return PAGE.format(inline="\n".join(parts))


def npm_pack(dest: Path) -> dict[str, Path]:
    """Download the pinned tarballs with npm (the registry's ordinary client)."""
    paths = {}
    for name, (version, _, _) in PINS.items():
        out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=dest, check=True,
                             capture_output=True, text=True).stdout.split()
        paths[name] = dest / out[-1]
    return paths


def external_references(html: str) -> list[str]:
    """Script, stylesheet, image or frame URLs the page would fetch from the network."""
    return [m.group(0) for m in _EXTERNAL.finditer(html)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jsontune.plots", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="regenerate the offline template from the pinned npm tarballs")
    build.add_argument("--out", default=str(TEMPLATE))
    check = sub.add_parser("check", help="fail if an HTML file loads anything over the network")
    check.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "build":
        with tempfile.TemporaryDirectory() as tmp:
            html = build_template(npm_pack(Path(tmp)))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(html, encoding="utf-8")
        print(f"wrote {args.out} ({len(html) // 1024} KiB)")
        return 0
    status = 0
    for name in args.files:
        found = external_references(Path(name).read_text(encoding="utf-8"))
        for ref in found:
            print(f"{name}: loads from the network: {ref}", file=sys.stderr)
        status |= bool(found)
        if not found:
            print(f"{name}: self-contained")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
