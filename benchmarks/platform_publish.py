"""Publishing 1,200 HITs and collecting their answers on MTurk, against the local fake endpoint.

Measures, in one run and against the same fake (real boto3 client, SigV4, model checks):

* the REFERENCE: a bare boto3 loop (create_hit_type + create_hit_with_hit_type per HIT;
  list_assignments_for_hit per HIT) with no database and no parsing - the floor set by
  the client, the wire and the fake;
* BARLOW: ``publish_mturk`` (question XML, tokens, one committed database row per HIT so a
  crash loses nothing) and ``collect`` (pagination, QuestionFormAnswers parsing, answer
  validation, attention checks, deduplication, answer rows),

and prints seconds, HITs/s, assignments/s and the Barlow / reference ratios.

    python benchmarks/platform_publish.py                 # 1,200 HITs x 3 assignments
    python benchmarks/platform_publish.py --hits 200      # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.platforms.fakes.mturk import FakeMTurk, Running  # noqa: E402

AKID, SECRET = "AKIDBENCH", "bench-secret"


def make_study(folder: Path, n_hits: int, assignments: int) -> Path:
    from study.db import open_study_database
    from study.hits import HitSpec, write_hits
    from study.study_file import default_spec, write_study_file

    (folder / "images").mkdir(parents=True)
    for s in "ABC":
        Image.fromarray(np.full((32, 96, 3), 128, np.uint8)).save(folder / "images" / f"{s}.png")
    spec = default_spec("bench")
    spec.settings.assignments_per_hit = assignments
    write_study_file(spec, folder)
    hits = [HitSpec(f"h{i:05d}", "label", f"class{i % 10}", i, {s: f"images/{s}.png" for s in "ABC"}) for i in range(n_hits)]
    write_hits(hits, folder / "hits.csv")
    open_study_database(folder, spec=spec).dispose()
    return folder


def work(fake: FakeMTurk, assignments: int) -> int:
    n = 0
    for hit_id in list(fake.hits):
        for w in range(assignments):
            aid = fake.accept(hit_id, f"AWORKER{w:04d}")
            fake.submit(aid, {"assignmentId": aid, "description": "dark stripes on a light background", "ease": "4", "confidence": "3", "useful_view": "B and C"})
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hits", type=int, default=1200)
    parser.add_argument("--assignments", type=int, default=3)
    args = parser.parse_args()

    import boto3

    from study.platforms.mturk import MTurk
    from study.platforms.questions import external_question, hit_url
    from study.platforms.collecting import collect
    from study.platforms.publishing import publish_mturk
    from study.platforms.service import open_platform_study

    os.environ.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET)
    os.environ.pop("AWS_PROFILE", None)
    ref_fake, fake = FakeMTurk(credentials={AKID: SECRET}), FakeMTurk(credentials={AKID: SECRET})
    ref_server, server = Running(ref_fake), Running(fake)
    client = boto3.client("mturk", region_name="us-east-1", endpoint_url=ref_server.url)
    with tempfile.TemporaryDirectory() as tmp:
        study = make_study(Path(tmp) / "study", args.hits, args.assignments)
        base = "https://study.example.org/"

        t = time.perf_counter()
        type_id = client.create_hit_type(Title="t", Description="d", Reward="0.50", AssignmentDurationInSeconds=1800)["HITTypeId"]
        for i in range(args.hits):
            client.create_hit_with_hit_type(HITTypeId=type_id, MaxAssignments=args.assignments, LifetimeInSeconds=86400, Question=external_question(hit_url(base, f"h{i:05d}")), UniqueRequestToken=f"ref-{i}")
        ref_publish = time.perf_counter() - t

        with open_platform_study(study) as ps:
            mturk = MTurk(sandbox=True, client=boto3.client("mturk", region_name="us-east-1", endpoint_url=server.url))
            t = time.perf_counter()
            report = publish_mturk(ps, mturk, lambda h: external_question(hit_url(base, h.key)), say=lambda line: None)
            barlow_publish = time.perf_counter() - t
            assert report.published == args.hits and len(fake.hits) == args.hits

            n_ref, n = work(ref_fake, args.assignments), work(fake, args.assignments)
            t = time.perf_counter()
            got = 0
            for hit_id in list(ref_fake.hits):
                got += len(client.list_assignments_for_hit(HITId=hit_id, MaxResults=100, AssignmentStatuses=["Submitted"])["Assignments"])
            ref_collect = time.perf_counter() - t
            t = time.perf_counter()
            result = collect(ps, mturk)
            barlow_collect = time.perf_counter() - t
            assert got == n_ref and result.new == n, (got, n_ref, result)
    ref_server.close()
    server.close()

    print(f"publish {args.hits} HITs ({args.assignments} assignments each), fake MTurk on 127.0.0.1, real boto3 client")
    print(f"  reference bare boto3 loop:  {ref_publish:7.2f} s  {args.hits / ref_publish:7.1f} HITs/s")
    print(f"  barlow publish_mturk:       {barlow_publish:7.2f} s  {args.hits / barlow_publish:7.1f} HITs/s  ratio {barlow_publish / ref_publish:.2f}")
    print(f"collect {n} assignments")
    print(f"  reference bare boto3 loop:  {ref_collect:7.2f} s  {n_ref / ref_collect:7.1f} assignments/s")
    print(f"  barlow collect:             {barlow_collect:7.2f} s  {n / barlow_collect:7.1f} assignments/s  ratio {barlow_collect / ref_collect:.2f}")


if __name__ == "__main__":
    main()
