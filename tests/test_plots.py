"""The offline `dvc plots` template: self-contained, pinned, and it really draws in a headless browser."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from jsontune import plots
from tests.conftest import REPO

TEMPLATE = REPO / plots.TEMPLATE


def _page(tmp_path: Path, template: str | None) -> Path:
    """What `dvc plots show` writes for one bar chart, rendered by DVC's own renderer."""
    from dvc_render.html import render_html
    from dvc_render.vega import VegaRenderer

    points = [{"label": f"exact_match / {s}", "value": v, "rev": "workspace"} for s, v in (("sft", 0.5), ("dpo", 0.6))]
    renderer = VegaRenderer(points, "reports/stages.json", template="bar_horizontal", x="value", y="label",
                            title="Test metrics per stage")
    out = tmp_path / "index.html"
    render_html([renderer], out, html_template=template)
    return out


def _tarball(path: Path, member: str, text: str) -> Path:
    data = text.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_committed_template_inlines_the_pinned_libraries_and_loads_nothing() -> None:
    html = TEMPLATE.read_text(encoding="utf-8")
    assert plots.external_references(html) == []
    assert "{plot_divs}" in html and "{scripts}" not in html
    for name, (version, _, _) in plots.PINS.items():
        assert f"<!-- {name}@{version} " in html
    assert html.count("</script>") == len(plots.PINS)


def test_external_references_flags_dvcs_default_cdn_page(tmp_path: Path) -> None:
    default = _page(tmp_path, None).read_text(encoding="utf-8")
    found = plots.external_references(default)
    assert len(found) == 3 and all("cdn.jsdelivr.net" in f for f in found)
    assert plots.external_references('<script src="vega.js"></script><img src="data:image/png;base64,AA">') == []
    assert plots.external_references("<link rel=stylesheet href='//x.org/a.css'>") != []


def test_dvc_page_with_the_template_is_self_contained(tmp_path: Path) -> None:
    html = _page(tmp_path, str(TEMPLATE)).read_text(encoding="utf-8")
    assert plots.external_references(html) == [] and "vegaEmbed(" in html
    assert plots.main(["check", str(tmp_path / "index.html")]) == 0


def test_a_tarball_that_does_not_match_its_pin_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    member = "package/build/x.min.js"
    bad = _tarball(tmp_path / "x.tgz", member, "var x = 1;")
    monkeypatch.setitem(plots.PINS, "x", ("1.0.0", member, "sha512-AAAA"))
    with pytest.raises(plots.TemplateError, match="sha512 does not match"):
        plots.library_source("x", bad)
    monkeypatch.setitem(plots.PINS, "x", ("1.0.0", member, plots.integrity(bad.read_bytes())))
    assert plots.library_source("x", bad) == "var x = 1;"
    tricky = _tarball(tmp_path / "y.tgz", member, 'var s = "</SCRIPT>";')
    monkeypatch.setitem(plots.PINS, "x", ("1.0.0", member, plots.integrity(tricky.read_bytes())))
    with pytest.raises(plots.TemplateError, match="cannot be inlined"):
        plots.library_source("x", tricky)
    clash = _tarball(tmp_path / "z.tgz", member, 'var s = "{plot_divs}";')
    monkeypatch.setitem(plots.PINS, "x", ("1.0.0", member, plots.integrity(clash.read_bytes())))
    with pytest.raises(plots.TemplateError, match="placeholder"):
        plots.library_source("x", clash)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_offline_page_draws_the_chart_in_headless_chromium(tmp_path: Path) -> None:
    page = _page(tmp_path, str(TEMPLATE))
    proc = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    # vega-embed wraps the chart in a div of its own and draws it (canvas by default); a page whose
    # libraries did not load keeps only DVC's bare <div id=...> with the script.
    assert 'class="vega-embed' in dom and ("<canvas" in dom or "<svg" in dom), proc.stderr[-2000:]
