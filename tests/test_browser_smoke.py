import pytest


@pytest.mark.browser
def test_chromium_renders_a_local_page(page, tmp_path):
    html = tmp_path / "hello.html"
    html.write_text("<!doctype html><title>t</title><button id=b onclick=\"this.textContent='clicked'\">go</button>")
    page.goto(html.as_uri())
    page.click("#b")
    assert page.text_content("#b") == "clicked"
