"""Render the report for a realistic 20-candidate run, measure it, and screenshot it.

    .venv/bin/python benchmarks/render_report.py [--out-dir docs] [--no-screenshot]

The run is the test fixture `tests/unit/report_data.py` (17 measured candidates, 2 failed,
1 skipped, a concurrency sweep, a traffic profile, regressions). Prints the HTML size and the
render time; with Chromium installed (Debian: `apt-get install -y chromium`) it also writes
`report-example.png`, a full-page screenshot reduced to a 256-colour palette (< 500 KB).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit import report_data  # noqa: E402

from infercost.report.html import render_run_report  # noqa: E402

MAX_HTML_BYTES = 2_000_000
MAX_PNG_BYTES = 500_000
WINDOW = (1280, 7000)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def screenshot(html_path: Path, png_path: Path) -> None:
    """A full-page PNG of the report: a tall window, then the empty bottom cropped off."""
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        raw = Path(profile) / "raw.png"
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={raw}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                html_path.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        with Image.open(raw) as image:
            page = image.convert("RGB")
    background = page.getpixel((2, page.height - 2))
    bottom = page.height
    while bottom > 1 and all(page.getpixel((x, bottom - 1)) == background for x in range(0, page.width, 8)):
        bottom -= 1
    page = page.crop((0, 0, page.width, min(page.height, bottom + 24)))
    page.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png_path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    view = report_data.run_view(simulated=False)
    started = time.perf_counter()
    document = render_run_report(view)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    render_run_report(view)
    warm = time.perf_counter() - started
    size = len(document.encode("utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        html_path = Path(scratch) / "report-example.html"
        html_path.write_text(document, encoding="utf-8")
        print(f"candidates: {len(view.candidates)}")
        print(f"html: {size / 1024:,.0f} KB (limit {MAX_HTML_BYTES / 1024:,.0f} KB)")
        print(f"render: {cold:.2f} s first (matplotlib import included), {warm:.2f} s again")
        if not args.no_screenshot:
            png_path = args.out_dir / "report-example.png"
            screenshot(html_path, png_path)
            png_size = png_path.stat().st_size
            print(f"screenshot: {png_path} {png_size / 1024:,.0f} KB (limit {MAX_PNG_BYTES / 1024:,.0f} KB)")
            if png_size > MAX_PNG_BYTES:
                raise SystemExit("the screenshot is over 500 KB")
    if size > MAX_HTML_BYTES:
        raise SystemExit("the report is over 2 MB")


if __name__ == "__main__":
    main()
