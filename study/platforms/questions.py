"""The HIT as MTurk shows it: ExternalQuestion or HTMLQuestion XML, and answers coming back.

Both are built from ``hit_templates/``: the ExternalQuestion frames the study server's HIT
page; the HTMLQuestion is the same page rendered once per HIT with images on S3 and a
small script that fills in MTurk's assignment parameters and posts to ``externalSubmit``.
"""

from __future__ import annotations

import json
from typing import Mapping
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from analysis_core.artifacts.errors import BarlowError
from analysis_core.artifacts.resources import hit_templates_dir, templates_dir
from study.hits import HitSpec
from study.modes import ASSIGNMENT, PageMode
from study.study_file import StudySpec

EXTERNAL_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd"
HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
MAX_QUESTION_BYTES = 65535
SUBMIT_URLS = {True: "https://workersandbox.mturk.com/mturk/externalSubmit", False: "https://www.mturk.com/mturk/externalSubmit"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_study_url(base_url: str, allow_http_loopback: bool = False) -> str:
    """The study server's public address, checked: MTurk frames only HTTPS pages."""
    parts = urlsplit(base_url)
    if not parts.netloc:
        raise BarlowError(f"--url {base_url!r} is not an address like https://study.example.org/")
    if parts.scheme != "https" and not (allow_http_loopback and parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise BarlowError(
            f"--url {base_url!r} must start with https://: MTurk and Prolific show the HIT page inside their own "
            "HTTPS page, and browsers block a plain-http frame there. Serve the study behind an HTTPS reverse proxy "
            "('barlow study serve --behind-proxy') or use --question html, which needs no public server"
        )
    if parts.query or parts.fragment:
        raise BarlowError(f"--url {base_url!r} must be the server's base address, without ?query or #fragment")
    return base_url.rstrip("/") + "/"


def hit_url(base_url: str, hit_key: str) -> str:
    return f"{base_url.rstrip('/')}/hit/{quote(hit_key, safe='')}"


def external_question(url: str, frame_height: int = 0) -> str:
    return (
        f'<ExternalQuestion xmlns="{EXTERNAL_NS}"><ExternalURL>{escape(url)}</ExternalURL>'
        f"<FrameHeight>{int(frame_height)}</FrameHeight></ExternalQuestion>"
    )


def html_question(html: str, frame_height: int = 0, hit_key: str = "") -> str:
    # "]]>" would end the CDATA section early; split it across two sections.
    body = html.replace("]]>", "]]]]><![CDATA[>")
    xml = f'<HTMLQuestion xmlns="{HTML_NS}"><HTMLContent><![CDATA[{body}]]></HTMLContent><FrameHeight>{int(frame_height)}</FrameHeight></HTMLQuestion>'
    size = len(xml.encode("utf-8"))
    if size > MAX_QUESTION_BYTES:
        raise BarlowError(
            f"HIT {hit_key}: the HTMLQuestion is {size} bytes, over MTurk's {MAX_QUESTION_BYTES}; shorten the "
            "instructions or questions in study.yaml, or use --question external"
        )
    return xml


def _environment() -> Environment:
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(templates_dir())), FileSystemLoader(str(hit_templates_dir()))]), autoescape=True)
    return env


# Runs in the worker's browser inside MTurk's frame: copy MTurk's parameters into the form,
# send it to turkSubmitTo, and keep the form read-only while the worker only previews.
_STANDALONE_SCRIPT = """<script>
(function () {
  var q = new URLSearchParams(window.location.search);
  var form = document.getElementById("hit-form");
  var aid = q.get("assignmentId") || "";
  ["assignmentId", "hitId", "workerId", "turkSubmitTo"].forEach(function (n) {
    var el = form.querySelector('input[name="' + n + '"]'); if (el) { el.value = q.get(n) || ""; }
  });
  var to = q.get("turkSubmitTo");
  form.action = to ? to.replace(/\\/+$/, "") + "/mturk/externalSubmit" : %s;
  if (!aid || aid === "ASSIGNMENT_ID_NOT_AVAILABLE") {
    form.querySelectorAll("fieldset, button").forEach(function (el) { el.disabled = true; });
    var note = document.createElement("div");
    note.className = "notice warn"; note.id = "preview-notice"; note.setAttribute("role", "status");
    note.textContent = "Preview: accept the HIT to answer. The form is read-only until then.";
    document.querySelector("main").prepend(note);
  }
})();
</script>"""


def render_standalone_hit(spec: StudySpec, hit: HitSpec, image_urls: Mapping[str, str], sandbox: bool) -> str:
    """The HIT page as one self-contained HTML document for an HTMLQuestion."""
    check = None
    if hit.is_attention_check and hit.check_id:
        try:
            check = spec.attention_check(hit.check_id)
        except KeyError:
            check = None
    submit = SUBMIT_URLS[sandbox]
    html = _environment().get_template("hit.html").render(
        spec=spec,
        hit=hit,
        images=dict(image_urls),
        mode=PageMode(ASSIGNMENT),
        check=check,
        errors={},
        values={},
        csrf_token="",
        form_token="",
        submit_url=submit,
        answered=None,
    )
    script = _STANDALONE_SCRIPT % json.dumps(submit)
    if "</body>" not in html:
        raise BarlowError("hit_templates/hit.html has no </body>; the HTMLQuestion script has nowhere to go")
    return html.replace("</body>", script + "\n</body>", 1)


def parse_answers(xml: str) -> dict[str, str]:
    """``QuestionFormAnswers`` XML -> {question identifier: text}.

    ExternalQuestion and HTMLQuestion answers arrive as ``FreeText``; a field sent twice
    (a multi-select) comes back as one ``|``-joined text, which is kept as it is.
    """
    if not xml:
        return {}
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise ValueError(f"the answer is not QuestionFormAnswers XML: {exc}") from None
    out: dict[str, str] = {}
    for answer in root:
        if _local(answer.tag) != "Answer":
            continue
        ident, text = "", ""
        for child in answer:
            name = _local(child.tag)
            if name == "QuestionIdentifier":
                ident = (child.text or "").strip()
            elif name == "FreeText":
                text = child.text or ""
            elif name == "SelectionIdentifier":
                text = "|".join(filter(None, [text, (child.text or "").strip()]))
        if ident:
            out[ident] = text
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def answers_xml(fields: Mapping[str, str]) -> str:
    """The QuestionFormAnswers document MTurk makes of a submitted form (used by the fake, too)."""
    ns = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"
    parts = [f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{ns}">']
    for name, value in fields.items():
        text = escape(value).encode("ascii", "xmlcharrefreplace").decode("ascii")
        parts.append(f"<Answer><QuestionIdentifier>{escape(name)}</QuestionIdentifier><FreeText>{text}</FreeText></Answer>")
    parts.append("</QuestionFormAnswers>")
    return "".join(parts)
