"""Make the README's report screenshot: render a run folder's report and photograph its top in headless Chromium.

    python docs/screenshot.py RUN_DIR [...] --out docs/report.png [--rename OLD=NEW ...] [--width 1000] [--height 1300]

Needs the Debian packages chromium and chromium-driver (as the report's browser test does). The crop
ends before the sample browser, so no reply text is in the picture.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from redinstruct.report import write_report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", help="run folders, as for 'redinstruct report'")
    parser.add_argument("--out", default="docs/report.png")
    parser.add_argument("--title", default="redinstruct report")
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--rename", action="append", default=[], help="OLD=NEW, as for 'redinstruct report'")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1300, help="height of the crop from the top of the page")
    args = parser.parse_args()

    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise SystemExit("needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory() as tmp:
        rename = dict(item.split("=", 1) for item in args.rename)
        html, _ = write_report(args.run_dirs, Path(tmp) / "report.html", base_model=rename.get(args.base_model, args.base_model),
                               title=args.title, rename=rename)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                     f"--window-size={args.width},{args.height}"):
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(driver), options=options)
        try:
            browser.get(html.as_uri())
            samples = browser.find_elements(By.XPATH, "//h2[text()='Samples']")
            if samples:  # keep reply text out of the picture
                browser.execute_script("arguments[0].style.display='none'; document.getElementById('samples').style.display='none'", samples[0])
            browser.set_window_size(args.width, args.height)
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(out))
        finally:
            browser.quit()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
