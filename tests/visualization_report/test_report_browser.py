import pytest

from analysis_core.report import build_report
from analysis_core.visualization.config import VisualizationConfig
from analysis_core.visualization.pipeline import visualize_analysis


@pytest.fixture(scope="module")
def report_index(fmnist_run, tmp_path_factory):
    visualize_analysis(fmnist_run["analysis"], config=VisualizationConfig(iterations=10), progress=False)
    index, _ = build_report(fmnist_run["analysis"], tmp_path_factory.mktemp("browser_report"), progress=False)
    return index


def _loaded(page, selector: str) -> bool:
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


@pytest.mark.browser
def test_index_to_group_shows_tree_sections_and_samples(page, report_index):
    page.goto(report_index.as_uri())
    rows = page.locator("#groups tbody tr")
    assert rows.count() == 20
    # Default order: ALER - BER, largest first; a click on BER sorts by error rate.
    gains = [float(x) for x in page.locator("#groups tbody td.aler_minus_ber").all_text_contents()]
    assert gains == sorted(gains, reverse=True)
    page.click("th[data-key=ber]")
    bers = [float(x) for x in page.locator("#groups tbody td.ber").all_text_contents()]
    assert bers == sorted(bers, reverse=True)
    page.fill("#filter", "sneak")
    assert page.locator("#groups tbody tr").count() == 2
    page.select_option("#grouping", "prediction")
    assert page.locator("#groups tbody tr").count() == 1
    page.click("#groups tbody a")
    page.wait_for_load_state("load")
    assert "Sneaker" in page.locator("h1").inner_text()
    tree = page.locator("#tree")
    assert tree.is_visible()
    assert tree.locator(".node").count() >= 3 and tree.locator(".edge").count() >= 2
    feature = page.locator(".feature").first
    feature.scroll_into_view_if_needed()
    for section in ("A", "B", "C"):
        img = feature.locator(f".sec-{section} img")
        img.scroll_into_view_if_needed()
        assert img.is_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    samples = page.locator("img.samples").first
    samples.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=samples.element_handle())
    page.click("#back")
    page.wait_for_load_state("load")
    assert page.locator("#groups tbody tr").count() == 20


@pytest.mark.browser
def test_index_paginates_many_groups(page, tmp_path, fmnist_run):
    """3,000 groups: one page of rows is drawn at a time and paging works."""
    import json

    from analysis_core.report.context import index_rows, load_report_data
    from analysis_core.report.render import write_report

    data = load_report_data(fmnist_run["analysis"])
    base = data.groups[0]
    data.groups = [dict(base, **{"class": f"class {i:04d}", "href": f"groups/g{i}.html", "aler_minus_ber": i / 3000}) for i in range(3000)]
    index = write_report(data, tmp_path / "big", progress=False)
    page.goto(index.as_uri())
    assert page.locator("#groups tbody tr").count() == 50
    assert "of 3000" in page.locator("#page-info").inner_text()
    assert page.locator("#groups tbody td a").first.inner_text() == "class 2999"
    page.click("#next")
    assert page.locator("#groups tbody td a").first.inner_text() == "class 2949"
    assert len(json.loads(page.locator("#groups-data").text_content())) == 3000 == len(index_rows(data))


@pytest.mark.browser
def test_demo_report_from_index_to_a_group(page, demo_run):
    page.goto(demo_run["index"].as_uri())
    assert page.locator("#groups tbody tr").count() >= 1
    page.locator("#groups tbody a").first.click()
    page.wait_for_load_state("load")
    assert page.locator("#tree .node").count() >= 3
    for section in ("A", "B", "C"):
        img = page.locator(f".feature .sec-{section} img").first
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    samples = page.locator("img.samples").first
    samples.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=samples.element_handle())
