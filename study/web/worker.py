"""Worker pages: entry, the HIT page in its three modes, submit, thank-you, images.

Handlers parse the request, call the worker flow (study.worker_flow: the SQL, the answer
checks and the allocation rules) and render what it returns.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, send_from_directory, session, url_for
from markupsafe import Markup, escape

from study.allocation import AllocationError
from study.failure_review import KIND as REVIEW_KIND
from study.failure_review.context import load_review_contexts
from study.modes import ASSIGNMENT, LOCAL, PREVIEW, ModeError, PageMode, resolve_mode
from study.verification import CLOSED, OFF, HitRef, VerificationUnavailable, confirms_at_collect
from study.web.context import study_context
from study.web.security import check_crowd_form_token, check_csrf, crowd_form_token, csrf_token
from study.worker_flow import ALREADY_SUBMITTED, ELSEWHERE, HitInfo

bp = Blueprint("worker", __name__)
WORKER_KEY = "worker_id"
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
# The page after a submit: ?saved=<hit key>&again=0 (stored) or 1 (stored before, nothing twice).
SAVED_KEY, AGAIN_KEY = "saved", "again"
SAVED, DUPLICATE = "saved", "duplicate"


def _hit_or_404(hit_key: str) -> HitInfo:
    hit = study_context().flow.hit(hit_key)
    if hit is None:
        abort(404, description=f"there is no HIT {hit_key[:64]!r} in this study")
    return hit


def _image_urls(hit: HitInfo) -> dict[str, str]:
    return {s: url_for("worker.image", filename=rel.removeprefix("images/")) for s, rel in hit.images.items()}


def _mode(params) -> PageMode:
    ctx = study_context()
    try:
        mode = resolve_mode(params, ctx.submit_origins)
    except ModeError as exc:
        abort(400, description=str(exc))
    if mode.kind != LOCAL and ctx.crowd_mode == OFF:
        abort(403, description="this study is not taking crowd-platform workers")
    return mode


def _review_context(hit: HitInfo) -> dict | None:
    ctx = study_context()
    if ctx.spec.kind != REVIEW_KIND:
        return None
    return load_review_contexts(ctx.study_dir).get(hit.key)


def _form_values(form) -> dict:
    """Submitted values to refill a form with; a multi-select keeps every ticked box."""
    values = {}
    for key in form:
        items = form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values


def render_hit(
    hit: HitInfo, mode: PageMode, *, errors: dict | None = None, values: dict | None = None, status: int = 200,
    answered: int | None = None, survey: bool = False, saved: str = "",
):
    if mode.kind == LOCAL and not errors and not values and isinstance(answered, int):
        return _local_hit_page(hit, answered, saved), status
    return render_template("hit.html", **_hit_page_args(hit, mode, errors, values, answered, survey, saved)), status


def _hit_page_args(hit: HitInfo, mode: PageMode, errors, values, answered, survey: bool, saved: str, csrf=None) -> dict:
    ctx = study_context()
    return dict(
        spec=ctx.spec,
        questions=ctx.flow.form_questions(crowd=mode.kind != LOCAL, survey=survey),
        review=_review_context(hit),
        hit=hit,
        images=_image_urls(hit),
        mode=mode,
        check=ctx.flow.attention_check(hit),
        errors=errors or {},
        values=values or {},
        csrf_token=(csrf if csrf is not None else csrf_token()) if mode.kind == LOCAL else "",
        form_token=crowd_form_token(hit.key, mode) if mode.kind == ASSIGNMENT else "",
        submit_url=url_for("worker.submit", hit_key=hit.key),
        answered=answered,
        saved=saved,
        leave_url=url_for("worker.leave") if mode.kind == LOCAL else "",
    )


# Local HIT pages differ from each other only in a few values: the worker's CSRF token and
# count of answered HITs, the HIT's key and its addresses (images, submit). Rendering the
# template is a good part of a request's CPU, so each process renders it once per kind of
# page (attention check or not, which image sections, the notice shown) with markers in
# those places, and fills them in per request. The markers are HTML comments: autoescaping
# turns any "<" of the page's own text into "&lt;", so no study or worker text can look like
# a marker; what is filled in is escaped here as the template would escape it. The first
# page of each kind is also rendered as usual and compared: a template that uses one of
# these values in another way (a filter, a test) is rendered on every request instead.
_SLOT_NAMES = ("csrf", "answered", "key", "submit", "img:A", "img:B", "img:C")
_SLOTS = {name: Markup(f"<!--barlow:slot:{name}-->") for name in _SLOT_NAMES}
_SLOT_PATTERN = re.compile("(" + "|".join(re.escape(str(m)) for m in _SLOTS.values()) + ")")
_SLOT_OF_MARKER = {str(m): name for name, m in _SLOTS.items()}
PAGE_CACHE_KEY = "barlow_hit_pages"


@dataclass(frozen=True)
class _MarkedHit:
    """What the template sees of the HIT when the page is cut into parts: its key, as a marker.

    Any other field reads as undefined (empty), so a template showing one makes the check
    against the page rendered as usual fail, and pages are then rendered one by one."""

    key: Markup


@dataclass(frozen=True)
class _PageParts:
    """A rendered page cut at its slots: ``parts[0] slot[0] parts[1] ... parts[-1]``."""

    review: object  # the review context rendered (a new one, after its file changed, renders again)
    parts: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()
    usable: bool = True

    def fill(self, values: dict[str, str]) -> str:
        out = [self.parts[0]]
        for name, text in zip(self.slots, self.parts[1:]):
            out.append(values[name])
            out.append(text)
        return "".join(out)


def _local_hit_page(hit: HitInfo, answered: int, saved: str) -> str:
    review = _review_context(hit)
    pages, addresses = current_app.extensions.setdefault(PAGE_CACHE_KEY, ({}, {}))
    # The addresses in the page (images, submit, leave) start with the app's mount point.
    root = request.script_root
    fixed = addresses.get((hit.key, root))
    if fixed is None:
        fixed = {"key": str(escape(hit.key)), "submit": str(escape(url_for("worker.submit", hit_key=hit.key)))}
        fixed |= {f"img:{s}": str(escape(url)) for s, url in _image_urls(hit).items()}
        addresses[(hit.key, root)] = fixed
    values = fixed | {"csrf": str(escape(csrf_token())), "answered": str(escape(answered))}
    # A review study's HITs each show their own context: one kind of page per HIT there.
    kind = (hit.is_attention_check, hit.check_id, tuple(hit.images), None if review is None else hit.key, saved, root)
    entry = pages.get(kind)
    if entry is not None and entry.review is review:
        if entry.usable:
            return entry.fill(values)
        return render_template("hit.html", **_hit_page_args(hit, PageMode(LOCAL), None, None, answered, False, saved))
    args = _hit_page_args(hit, PageMode(LOCAL), None, None, _SLOTS["answered"], False, saved, csrf=_SLOTS["csrf"])
    args |= {"hit": _MarkedHit(_SLOTS["key"]), "submit_url": _SLOTS["submit"], "images": {s: _SLOTS[f"img:{s}"] for s in hit.images}}
    pieces = _SLOT_PATTERN.split(render_template("hit.html", **args))
    entry = _PageParts(review, tuple(pieces[0::2]), tuple(_SLOT_OF_MARKER[m] for m in pieces[1::2]))
    page = render_template("hit.html", **_hit_page_args(hit, PageMode(LOCAL), None, None, answered, False, saved))
    if set(hit.images) - {"A", "B", "C"} or entry.fill(values) != page:
        entry = _PageParts(review, usable=False)
    pages[kind] = entry
    return page


def _entry_page(error: str = "", status: int = 200):
    ctx = study_context()
    html = render_template(
        "study/entry.html",
        spec=ctx.spec,
        n_hits=sum(not h.is_attention_check for h in ctx.flow.hits.values()),
        has_worker=WORKER_KEY in session and not error,
        csrf_token=csrf_token(),
        error=error,
    )
    return html, status


def shows_finished_page() -> bool:
    """Whether this request's answer is the "all done" page of a local session."""
    return bool(g.get("barlow_finished"))


@bp.get("/")
def entry():
    return _entry_page(request.args.get("error", "")[:200])


@bp.post("/start")
def start():
    check_csrf()
    worker_id = (request.form.get("worker_id") or "").strip()
    if not worker_id:
        worker_id = "local-" + secrets.token_hex(4)
    elif not _WORKER_ID.match(worker_id):
        return _entry_page("A worker id is 1 to 64 letters, digits or the characters _ . @ + -", 400)
    session[WORKER_KEY] = worker_id
    return redirect(url_for("worker.next_hit"))


@bp.post("/leave")
def leave():
    check_csrf()
    session.pop(WORKER_KEY, None)
    return redirect(url_for("worker.entry"))


@bp.get("/next")
def next_hit():
    """The worker's current HIT (or a new one), shown here rather than behind a redirect:
    one request less per HIT. A reload shows the same HIT again (the assignment is held);
    the form posts to the HIT's own submit address, so a double submit stays a duplicate."""
    ctx = study_context()
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))
    step = ctx.flow.next_hit(worker_external)
    saved = _saved_notice()
    if step.hit_key is not None:
        return render_hit(ctx.flow.hit(step.hit_key), PageMode(LOCAL), answered=step.answered, saved=saved)
    if step.survey_due:
        return redirect(url_for("worker.survey", **_saved_args()))
    g.barlow_finished = True
    return render_template("study/thanks.html", spec=ctx.spec, finished=True, answered=step.answered, saved=saved, csrf_token=csrf_token())


def _saved_args() -> dict:
    """The query parameters that say which HIT's answer was just stored (passed on to /survey)."""
    return {k: request.args[k] for k in (SAVED_KEY, AGAIN_KEY) if k in request.args}


def _saved_notice() -> str:
    """What the page after a submit says about it: SAVED, DUPLICATE or "" (nothing submitted just now).

    The submit redirects to the next page with the HIT's key (``?saved=<key>&again=0``), as the
    separate thank-you page did: one request less per HIT. Only a key of this study counts.
    """
    key = request.args.get(SAVED_KEY)
    if not key or study_context().flow.hit(key) is None:
        return ""
    return DUPLICATE if request.args.get(AGAIN_KEY) == "1" else SAVED


@bp.get("/hit/<hit_key>")
def hit_page(hit_key: str):
    ctx = study_context()
    mode = _mode(request.args)
    hit = _hit_or_404(hit_key)
    if mode.kind == PREVIEW:
        return render_hit(hit, mode, survey=True)
    if mode.kind == ASSIGNMENT:
        # Crowd pages only read: nothing is stored until the worker submits.
        refusal, survey = ctx.flow.crowd_page(hit, mode.assignment_id, mode.worker_id)
        if refusal:
            abort(409, description=refusal)
        return render_hit(hit, mode, survey=survey)
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))
    # Showing the HIT only reads; /next made the assignment.
    state, answered = ctx.flow.local_page(hit, worker_external)
    if state == ELSEWHERE:
        return redirect(url_for("worker.next_hit"))
    if state == ALREADY_SUBMITTED:
        return redirect(url_for("worker.next_hit", **{SAVED_KEY: hit.key, AGAIN_KEY: 1}))
    return render_hit(hit, mode, answered=answered)


def _verify_crowd_assignment(hit: HitInfo, mode: PageMode) -> bool:
    """In closed crowd mode, ask the platform whether it issued this assignment.

    True when the answer may be stored as confirmed, False when it may be stored only as
    unconfirmed (the platform shows the assignment later; see study.verification).
    """
    ctx = study_context()
    if ctx.crowd_mode != CLOSED:
        return True
    ref = HitRef(hit.key, ctx.flow.platform_hit_id(hit))
    later = confirms_at_collect(ctx.verifier)
    try:
        issued = ctx.verifier.verify_assignment(ref, mode.assignment_id, mode.worker_id)
    except VerificationUnavailable:
        if later:
            return False
        abort(503, description="the crowd platform cannot confirm your assignment right now; submit again in a minute")
    if not issued and not later:
        abort(403, description="the crowd platform did not issue this assignment for this HIT; your answer was not stored")
    return bool(issued)


@bp.post("/hit/<hit_key>/submit")
def submit(hit_key: str):
    ctx = study_context()
    mode = _mode(request.form)
    if mode.kind == PREVIEW:
        abort(400, description="this is a preview: accept the HIT on the crowd platform before submitting")
    if mode.kind == LOCAL:
        check_csrf()
        worker_external = session.get(WORKER_KEY)
        if not worker_external:
            abort(403, description="your session has ended; start again from the study's entry page")
        hit = _hit_or_404(hit_key)
        try:
            outcome = ctx.flow.submit_local(hit, worker_external, request.form)
        except AllocationError as exc:
            abort(exc.status, description=str(exc))
    else:
        lifetime = max(1, ctx.spec.settings.lifetime_days) * 86400
        accepted_at = check_crowd_form_token(request.form.get("form_token", ""), hit_key, mode, lifetime)
        hit = _hit_or_404(hit_key)
        confirmed = _verify_crowd_assignment(hit, mode)
        try:
            outcome = ctx.flow.submit_crowd(
                hit, mode.assignment_id, mode.worker_id, request.form,
                platform_hit_id=mode.platform_hit_id, accepted_at=accepted_at, confirmed=confirmed,
            )
        except AllocationError as exc:
            abort(exc.status, description=str(exc))
    if outcome.errors:
        return render_hit(hit, mode, errors=outcome.errors, values=_form_values(request.form), status=400, survey=outcome.survey)
    if mode.kind == ASSIGNMENT:
        return render_template(
            "study/handoff.html",
            spec=ctx.spec,
            action=mode.external_submit_url,
            assignment_id=mode.assignment_id,
            answers=outcome.answers,
            duplicate=not outcome.stored,
        )
    # Straight on to the next HIT (or the survey, or the end), which says the answer is saved.
    return redirect(url_for("worker.next_hit", **{SAVED_KEY: hit_key, AGAIN_KEY: 0 if outcome.stored else 1}))


@bp.route("/survey", methods=["GET", "POST"])
def survey():
    """The end-of-session survey of a local worker, asked once after their last HIT."""
    ctx = study_context()
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))
    if request.method == "POST":
        check_csrf()
    step = ctx.flow.survey(worker_external, request.form if request.method == "POST" else None)
    if not step.ask:
        return redirect(url_for("worker.next_hit"))
    values = _form_values(request.form) if step.errors else {}
    saved = _saved_notice() if request.method == "GET" else ""
    html = render_template("study/survey.html", spec=ctx.spec, questions=ctx.spec.survey_questions(), errors=step.errors, values=values, saved=saved, csrf_token=csrf_token())
    return html, 400 if step.errors else 200


@bp.get("/thanks/<hit_key>")
def thanks(hit_key: str):
    ctx = study_context()
    hit = _hit_or_404(hit_key)
    worker_external = session.get(WORKER_KEY)
    return render_template(
        "study/thanks.html",
        spec=ctx.spec,
        finished=False,
        duplicate=request.args.get("again") == "1",
        hit_key=hit.key,
        answered=ctx.flow.answered(worker_external) if worker_external else 0,
        csrf_token=csrf_token(),
    )


@bp.get("/images/<path:filename>")
def image(filename: str):
    ctx = study_context()
    return send_from_directory(ctx.study_dir / "images", filename, max_age=3600)


