"""Worker pages: entry, the HIT page in its three modes, submit, thank-you, images.

Handlers parse the request, call the allocator (study.allocation) inside one transaction
(study.web.transactions) and render; the rules about who may answer what live there.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, redirect, render_template, request, send_from_directory, session, url_for
from sqlalchemy import func, select

from study.allocation import AllocationError
from study.failure_review import KIND as REVIEW_KIND
from study.failure_review.context import load_review_contexts
from study.models import RELEASED, SUBMITTED, Answer, Assignment, Hit, Worker
from study.modes import ASSIGNMENT, LOCAL, PREVIEW, ModeError, PageMode, resolve_mode
from study.study_file import check_passed, validate_answers
from study.verification import CLOSED, OFF, HitRef, VerificationUnavailable
from study.web.context import study_context
from study.web.security import check_crowd_form_token, check_csrf, crowd_form_token, csrf_token
from study.web.transactions import in_transaction

bp = Blueprint("worker", __name__)
WORKER_KEY = "worker_id"
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
CROWD_SOURCE = "mturk"


def _hit_or_404(db_session, hit_key: str) -> Hit:
    ctx = study_context()
    hit = ctx.allocator.hit(db_session, hit_key)
    if hit is None:
        abort(404, description=f"there is no HIT {hit_key[:64]!r} in this study")
    return hit


def _image_urls(hit: Hit) -> dict[str, str]:
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


def _survey_done(db_session, external_id: str | None, source: str = "local") -> bool:
    """Whether this worker has answered the study's once-per-worker survey already (read-only)."""
    ctx = study_context()
    fields = [f for q in ctx.spec.survey_questions() for f in q.answer_fields()]
    if not fields:
        return True
    if not external_id:
        return False
    found = db_session.scalar(
        select(func.count(Answer.id))
        .join(Assignment, Answer.assignment_id == Assignment.id)
        .join(Hit, Assignment.hit_id == Hit.id)
        .join(Worker, Assignment.worker_id == Worker.id)
        .where(Hit.study_id == ctx.db.study_id, Worker.source == source, Worker.external_id == external_id, Answer.question_id.in_(fields))
    )
    return bool(found)


def _form_questions(mode: PageMode, survey: bool) -> list:
    """A HIT's questions; the survey joins them in a crowd worker's first HIT (there is no
    session end on a crowd platform) and is asked on its own page at the end of a local session."""
    ctx = study_context()
    return ctx.spec.hit_questions() + (ctx.spec.survey_questions() if survey and mode.kind != LOCAL else [])


def _review_context(hit: Hit) -> dict | None:
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


def render_hit(hit: Hit, mode: PageMode, *, errors: dict | None = None, values: dict | None = None, status: int = 200, answered: int | None = None, survey: bool = False):
    ctx = study_context()
    check = None
    if hit.is_attention_check and hit.check_id:
        try:
            check = ctx.spec.attention_check(hit.check_id)
        except KeyError:
            check = None
    form_token = crowd_form_token(hit.key, mode) if mode.kind == ASSIGNMENT else ""
    html = render_template(
        "hit.html",
        spec=ctx.spec,
        questions=_form_questions(mode, survey),
        review=_review_context(hit),
        hit=hit,
        images=_image_urls(hit),
        mode=mode,
        check=check,
        errors=errors or {},
        values=values or {},
        csrf_token=csrf_token() if mode.kind == LOCAL else "",
        form_token=form_token,
        submit_url=url_for("worker.submit", hit_key=hit.key),
        answered=answered,
    )
    return html, status


def _entry_page(error: str = "", status: int = 200):
    ctx = study_context()
    html = render_template(
        "study/entry.html",
        spec=ctx.spec,
        n_hits=sum(not h.is_attention_check for h in ctx.hits.values()),
        has_worker=WORKER_KEY in session and not error,
        csrf_token=csrf_token(),
        error=error,
    )
    return html, status


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
    ctx = study_context()
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))

    def allocate(db_session):
        worker = ctx.allocator.worker(db_session, worker_external)
        assignment = ctx.allocator.next_assignment(db_session, worker)
        if assignment is not None:
            return assignment.hit.key, 0, False
        answered = ctx.allocator.answered_count(db_session, worker)
        return None, answered, bool(answered) and not _survey_done(db_session, worker_external)

    hit_key, answered, survey_due = in_transaction(allocate)
    if hit_key is not None:
        return redirect(url_for("worker.hit_page", hit_key=hit_key))
    if survey_due:
        return redirect(url_for("worker.survey"))
    return render_template("study/thanks.html", spec=ctx.spec, finished=True, answered=answered, csrf_token=csrf_token())


@bp.get("/hit/<hit_key>")
def hit_page(hit_key: str):
    ctx = study_context()
    mode = _mode(request.args)
    if mode.kind != LOCAL:
        # Preview and crowd pages only read: nothing is stored until the worker submits.
        with ctx.db.reads() as db_session:
            hit = _hit_or_404(db_session, hit_key)
            if mode.kind == ASSIGNMENT:
                refusal = ctx.allocator.crowd_refusal(db_session, hit, mode.assignment_id, mode.worker_id, source=CROWD_SOURCE)
                if refusal:
                    abort(409, description=refusal)
                return render_hit(hit, mode, survey=not _survey_done(db_session, mode.worker_id, CROWD_SOURCE))
            return render_hit(hit, mode, survey=True)
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))
    # Showing the HIT only reads; /next made the assignment.
    with ctx.db.reads() as db_session:
        hit = _hit_or_404(db_session, hit_key)
        worker = ctx.allocator.find_worker(db_session, worker_external)
        assignment = ctx.allocator.assignment_of(db_session, hit, worker) if worker is not None else None
        if assignment is None or assignment.status == RELEASED:
            # Not this worker's HIT (or its time ran out): send them to the one they hold.
            return redirect(url_for("worker.next_hit"))
        if assignment.status == SUBMITTED:
            return redirect(url_for("worker.thanks", hit_key=hit.key, again=1))
        return render_hit(hit, mode, answered=ctx.allocator.answered_count(db_session, worker))


def _verify_crowd_assignment(hit_key: str, mode: PageMode) -> None:
    """In closed crowd mode, ask the platform whether it issued this assignment."""
    ctx = study_context()
    if ctx.crowd_mode != CLOSED:
        return
    with ctx.db.reads() as db_session:
        hit = _hit_or_404(db_session, hit_key)
        ref = HitRef(hit.key, hit.platform_hit_id)
    try:
        issued = ctx.verifier.verify_assignment(ref, mode.assignment_id, mode.worker_id)
    except VerificationUnavailable:
        abort(503, description="the crowd platform cannot confirm your assignment right now; submit again in a minute")
    if not issued:
        abort(403, description="the crowd platform did not issue this assignment for this HIT; your answer was not stored")


@bp.post("/hit/<hit_key>/submit")
def submit(hit_key: str):
    ctx = study_context()
    mode = _mode(request.form)
    if mode.kind == PREVIEW:
        abort(400, description="this is a preview: accept the HIT on the crowd platform before submitting")
    accepted_at = None
    if mode.kind == LOCAL:
        check_csrf()
        worker_external = session.get(WORKER_KEY)
        if not worker_external:
            abort(403, description="your session has ended; start again from the study's entry page")
    else:
        lifetime = max(1, ctx.spec.settings.lifetime_days) * 86400
        accepted_at = check_crowd_form_token(request.form.get("form_token", ""), hit_key, mode, lifetime)
        _verify_crowd_assignment(hit_key, mode)

    def store(db_session):
        hit = _hit_or_404(db_session, hit_key)
        if mode.kind == LOCAL:
            worker = ctx.allocator.worker(db_session, worker_external)
            assignment = ctx.allocator.assignment_of(db_session, hit, worker)
            if assignment is None:
                abort(403, description=f"HIT {hit.key} is not assigned to you; take the next HIT from the entry page")
        else:
            if hit.platform_hit_id and mode.platform_hit_id and mode.platform_hit_id != hit.platform_hit_id:
                abort(400, description="this page was opened for another HIT on the crowd platform")
            try:
                assignment = ctx.allocator.platform_assignment(
                    db_session, hit, mode.assignment_id, mode.worker_id, source=CROWD_SOURCE, accepted_at=accepted_at
                )
            except AllocationError as exc:
                abort(exc.status, description=str(exc))
        if assignment.status == SUBMITTED:
            return None, False, {a.question_id: a.value for a in assignment.answers}
        survey = mode.kind != LOCAL and not _survey_done(db_session, mode.worker_id, CROWD_SOURCE)
        answers, errors = validate_answers(_form_questions(mode, survey), request.form)
        if errors:
            return render_hit(hit, mode, errors=errors, values=_form_values(request.form), status=400, survey=survey), False, {}
        passed = None
        if hit.is_attention_check and hit.check_id:
            try:
                passed = check_passed(ctx.spec.attention_check(hit.check_id), answers)
            except KeyError:
                passed = None
        try:
            stored = ctx.allocator.submit(db_session, assignment, answers, attention_passed=passed)
        except AllocationError as exc:
            abort(exc.status, description=str(exc))
        return None, stored, {a.question_id: a.value for a in assignment.answers}

    # A concurrent double submit that loses the race on the unique answer constraint is
    # retried by in_transaction and then finds the assignment submitted: a duplicate.
    page, stored, answers_out = in_transaction(store)
    if page is not None:
        return page
    if mode.kind == ASSIGNMENT:
        return render_template(
            "study/handoff.html",
            spec=ctx.spec,
            action=mode.external_submit_url,
            assignment_id=mode.assignment_id,
            answers=answers_out,
            duplicate=not stored,
        )
    return redirect(url_for("worker.thanks", hit_key=hit_key, again=0 if stored else 1))


@bp.route("/survey", methods=["GET", "POST"])
def survey():
    """The end-of-session survey of a local worker, asked once after their last HIT.

    Its answers are stored with the worker's last submitted assignment (answer rows keyed
    by the statements' ids), so exports and analyses find them like any other answer.
    """
    ctx = study_context()
    worker_external = session.get(WORKER_KEY)
    if not worker_external:
        return redirect(url_for("worker.entry"))
    questions = ctx.spec.survey_questions()
    if request.method == "POST":
        check_csrf()

    def ask(db_session):
        worker = ctx.allocator.worker(db_session, worker_external)
        last = db_session.scalar(
            select(Assignment)
            .join(Hit)
            .where(Hit.study_id == ctx.db.study_id, Assignment.worker_id == worker.id, Assignment.status == SUBMITTED)
            .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
            .limit(1)
        )
        if not questions or last is None or _survey_done(db_session, worker_external):
            return None, {}, {}
        if request.method != "POST":
            return False, {}, {}
        answers, errors = validate_answers(questions, request.form)
        if errors:
            return False, errors, _form_values(request.form)
        now = ctx.clock()
        for question_id, value in answers.items():
            db_session.add(Answer(assignment_id=last.id, question_id=question_id, value=value, created_at=now))
        return None, {}, {}

    # None: nothing (more) to ask, go on; False: show the form (again, with errors).
    show, errors, values = in_transaction(ask)
    if show is None:
        return redirect(url_for("worker.next_hit"))
    html = render_template("study/survey.html", spec=ctx.spec, questions=questions, errors=errors, values=values, csrf_token=csrf_token())
    return html, 400 if errors else 200


@bp.get("/thanks/<hit_key>")
def thanks(hit_key: str):
    ctx = study_context()
    if hit_key not in ctx.hits:
        abort(404, description=f"there is no HIT {hit_key[:64]!r} in this study")
    answered = 0
    worker_external = session.get(WORKER_KEY)
    if worker_external:
        with ctx.db.reads() as db_session:
            answered = ctx.allocator.answered_count_of(db_session, worker_external)
    return render_template(
        "study/thanks.html",
        spec=ctx.spec,
        finished=False,
        duplicate=request.args.get("again") == "1",
        hit_key=hit_key,
        answered=answered,
        csrf_token=csrf_token(),
    )


@bp.get("/images/<path:filename>")
def image(filename: str):
    ctx = study_context()
    return send_from_directory(ctx.study_dir / "images", filename, max_age=3600)


