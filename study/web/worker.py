"""Worker pages: entry, the HIT page in its three modes, submit, thank-you, images."""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, abort, redirect, render_template, request, send_from_directory, session, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from study.allocation import AllocationError
from study.failure_review import KIND as REVIEW_KIND
from study.failure_review.context import load_review_contexts
from study.models import RELEASED, SUBMITTED, Answer, Assignment, Hit
from study.modes import ASSIGNMENT, LOCAL, PREVIEW, ModeError, PageMode, resolve_mode
from study.study_file import check_passed, validate_answers
from study.web.context import study_context
from study.web.security import check_crowd_form_token, check_csrf, crowd_form_token, csrf_token

bp = Blueprint("worker", __name__)
WORKER_KEY = "worker_id"
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")


def _hit_or_404(session_, hit_key: str) -> Hit:
    ctx = study_context()
    hit = session_.scalar(select(Hit).where(Hit.study_id == ctx.db.study_id, Hit.key == hit_key))
    if hit is None:
        abort(404, description=f"there is no HIT {hit_key[:64]!r} in this study")
    return hit


def _image_urls(hit: Hit) -> dict[str, str]:
    return {s: url_for("worker.image", filename=rel.removeprefix("images/")) for s, rel in hit.images.items()}


def _worker_stats(db_session, worker_id: int | None) -> dict:
    if worker_id is None:
        return {}
    ctx = study_context()
    count = db_session.scalar(
        select(func.count(Assignment.id))
        .join(Hit)
        .where(Hit.study_id == ctx.db.study_id, Assignment.worker_id == worker_id, Assignment.status == SUBMITTED)
    )
    return {"answered": count or 0}


def _survey_done(db_session, worker_id: int | None) -> bool:
    """Whether this worker has answered the study's once-per-worker survey already."""
    ctx = study_context()
    fields = [f for q in ctx.spec.survey_questions() for f in q.answer_fields()]
    if not fields or worker_id is None:
        return bool(not fields)
    found = db_session.scalar(
        select(func.count(Answer.id))
        .join(Assignment, Answer.assignment_id == Assignment.id)
        .join(Hit, Assignment.hit_id == Hit.id)
        .where(Hit.study_id == ctx.db.study_id, Assignment.worker_id == worker_id, Answer.question_id.in_(fields))
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


def render_hit(hit: Hit, mode: PageMode, *, errors: dict | None = None, values: dict | None = None, status: int = 200, answered: int | None = None, survey: bool = False):
    ctx = study_context()
    check = None
    if hit.is_attention_check and hit.check_id:
        try:
            check = ctx.spec.attention_check(hit.check_id)
        except KeyError:
            check = None
    form_token = crowd_form_token(hit.key, mode.assignment_id) if mode.kind == ASSIGNMENT else ""
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


@bp.get("/")
def entry():
    ctx = study_context()
    return render_template(
        "study/entry.html",
        spec=ctx.spec,
        n_hits=sum(not h.is_attention_check for h in ctx.hits.values()),
        has_worker=WORKER_KEY in session,
        csrf_token=csrf_token(),
        error=request.args.get("error", ""),
    )


@bp.post("/start")
def start():
    check_csrf()
    worker_id = (request.form.get("worker_id") or "").strip()
    if not worker_id:
        worker_id = "local-" + secrets.token_hex(4)
    elif not _WORKER_ID.match(worker_id):
        ctx = study_context()
        html = render_template(
            "study/entry.html",
            spec=ctx.spec,
            n_hits=sum(not h.is_attention_check for h in ctx.hits.values()),
            has_worker=False,
            csrf_token=csrf_token(),
            error="A worker id is 1 to 64 letters, digits or the characters _ . @ + -",
        )
        return html, 400
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
    for attempt in range(2):
        try:
            with ctx.db.sessions.begin() as db_session:
                worker = ctx.allocator.worker(db_session, worker_external)
                assignment = ctx.allocator.next_assignment(db_session, worker)
                if assignment is not None:
                    return redirect(url_for("worker.hit_page", hit_key=assignment.hit.key))
                stats = _worker_stats(db_session, worker.id)
                if stats.get("answered") and not _survey_done(db_session, worker.id):
                    return redirect(url_for("worker.survey"))
            break
        except IntegrityError:
            # Two tabs of one worker asked at once (only possible off SQLite, which
            # serializes writers); the other request made the row, so ask again.
            if attempt:
                raise
    return render_template("study/thanks.html", spec=ctx.spec, finished=True, answered=stats.get("answered", 0), csrf_token=csrf_token())


@bp.get("/hit/<hit_key>")
def hit_page(hit_key: str):
    ctx = study_context()
    try:
        mode = resolve_mode(request.args)
    except ModeError as exc:
        abort(400, description=str(exc))
    with ctx.db.sessions.begin() as db_session:
        hit = _hit_or_404(db_session, hit_key)
        if mode.kind == PREVIEW:
            return render_hit(hit, mode, survey=True)
        if mode.kind == ASSIGNMENT:
            try:
                assignment = ctx.allocator.platform_assignment(db_session, hit, mode.assignment_id, mode.worker_id)
            except AllocationError as exc:
                abort(exc.status, description=str(exc))
            return render_hit(hit, mode, survey=not _survey_done(db_session, assignment.worker_id))
        worker_external = session.get(WORKER_KEY)
        if not worker_external:
            return redirect(url_for("worker.entry"))
        worker = ctx.allocator.worker(db_session, worker_external)
        assignment = db_session.scalar(select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id))
        if assignment is None or assignment.status == RELEASED:
            # Not this worker's HIT (or its time ran out): send them to the one they hold.
            return redirect(url_for("worker.next_hit"))
        if assignment.status == SUBMITTED:
            return redirect(url_for("worker.thanks", hit_key=hit.key, again=1))
        stats = _worker_stats(db_session, worker.id)
        return render_hit(hit, mode, answered=stats.get("answered", 0))


@bp.post("/hit/<hit_key>/submit")
def submit(hit_key: str):
    ctx = study_context()
    try:
        mode = resolve_mode(request.form)
    except ModeError as exc:
        abort(400, description=str(exc))
    if mode.kind == PREVIEW:
        abort(400, description="this is a preview: accept the HIT on the crowd platform before submitting")
    if mode.kind == LOCAL:
        check_csrf()
    else:
        lifetime = max(1, ctx.spec.settings.lifetime_days) * 86400
        check_crowd_form_token(request.form.get("form_token", ""), hit_key, mode.assignment_id, lifetime)

    try:
        with ctx.db.sessions.begin() as db_session:
            hit = _hit_or_404(db_session, hit_key)
            if mode.kind == LOCAL:
                worker_external = session.get(WORKER_KEY)
                if not worker_external:
                    abort(403, description="your session has ended; start again from the study's entry page")
                worker = ctx.allocator.worker(db_session, worker_external)
                assignment = db_session.scalar(
                    select(Assignment).where(Assignment.hit_id == hit.id, Assignment.worker_id == worker.id)
                )
                if assignment is None:
                    abort(403, description=f"HIT {hit.key} is not assigned to you; take the next HIT from the entry page")
            else:
                assignment = db_session.scalar(select(Assignment).where(Assignment.platform_assignment_id == mode.assignment_id))
                if assignment is None or assignment.hit_id != hit.id:
                    abort(400, description="unknown assignment for this HIT; reload the HIT from the crowd platform")

            if assignment.status == SUBMITTED:
                stored = False
            else:
                survey = mode.kind != LOCAL and not _survey_done(db_session, assignment.worker_id)
                answers, errors = validate_answers(_form_questions(mode, survey), request.form)
                if errors:
                    html, status = render_hit(hit, mode, errors=errors, values=_form_values(request.form), status=400, survey=survey)
                    return html, status
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
            answers_out = {a.question_id: a.value for a in assignment.answers} if mode.kind == ASSIGNMENT else {}
    except IntegrityError:
        # A concurrent double submit lost the race on the unique answer constraint: the
        # other request stored the answer, so this one is a duplicate, not an error.
        stored = False
        answers_out = {}
        if mode.kind == ASSIGNMENT:
            with ctx.db.sessions() as db_session:
                row = db_session.scalar(select(Assignment).where(Assignment.platform_assignment_id == mode.assignment_id))
                answers_out = {a.question_id: a.value for a in row.answers} if row else {}

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


def _form_values(form) -> dict:
    """Submitted values to refill a form with; a multi-select keeps every ticked box."""
    values = {}
    for key in form:
        items = form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values


def _last_submitted(db_session, worker_id: int) -> Assignment | None:
    ctx = study_context()
    return db_session.scalar(
        select(Assignment)
        .join(Hit)
        .where(Hit.study_id == ctx.db.study_id, Assignment.worker_id == worker_id, Assignment.status == SUBMITTED)
        .order_by(Assignment.submitted_at.desc(), Assignment.id.desc())
        .limit(1)
    )


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
    errors: dict = {}
    values: dict = {}
    with ctx.db.sessions.begin() as db_session:
        worker = ctx.allocator.worker(db_session, worker_external)
        last = _last_submitted(db_session, worker.id)
        if not questions or last is None or _survey_done(db_session, worker.id):
            return redirect(url_for("worker.next_hit"))
        if request.method == "POST":
            check_csrf()
            answers, errors = validate_answers(questions, request.form)
            if not errors:
                now = ctx.clock()
                for question_id, value in answers.items():
                    db_session.add(Answer(assignment_id=last.id, question_id=question_id, value=value, created_at=now))
                return redirect(url_for("worker.next_hit"))
            values = _form_values(request.form)
    html = render_template(
        "study/survey.html",
        spec=ctx.spec,
        questions=questions,
        errors=errors,
        values=values,
        csrf_token=csrf_token(),
    )
    return html, 400 if errors else 200


@bp.get("/thanks/<hit_key>")
def thanks(hit_key: str):
    ctx = study_context()
    if hit_key not in ctx.hits:
        abort(404, description=f"there is no HIT {hit_key[:64]!r} in this study")
    answered = 0
    worker_external = session.get(WORKER_KEY)
    if worker_external:
        with ctx.db.sessions.begin() as db_session:
            worker = ctx.allocator.worker(db_session, worker_external)
            answered = _worker_stats(db_session, worker.id).get("answered", 0)
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
    response = send_from_directory(ctx.study_dir / "images", filename, max_age=3600)
    return response
