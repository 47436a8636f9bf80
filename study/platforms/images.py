"""HIT images on S3 for HTMLQuestion pages: uploaded once with boto3, referenced by URL.

URLs are presigned (the bucket stays private; links last at most 7 days, SigV4's limit)
or plain public URLs (the bucket or prefix must allow public reads).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analysis_core.artifacts.errors import BarlowError

MAX_PRESIGN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class BucketTarget:
    bucket: str
    prefix: str

    def key(self, study_name: str, relative: str) -> str:
        return "/".join(p for p in (self.prefix.strip("/"), study_name, relative.replace("\\", "/")) if p)


def parse_bucket(value: str) -> BucketTarget:
    parts = urlsplit(value)
    if parts.scheme != "s3" or not parts.netloc:
        raise BarlowError(f"--image-bucket {value!r} must look like s3://BUCKET/PREFIX")
    return BucketTarget(parts.netloc, parts.path.lstrip("/"))


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ImageUploader:
    """Uploads a study's images (skipping ones already there, same content) and makes URLs."""

    def __init__(self, target: BucketTarget, study_name: str, presign_seconds: int | None, session: Any = None):
        import boto3

        if presign_seconds is not None and not 0 < presign_seconds <= MAX_PRESIGN_SECONDS:
            raise BarlowError(
                f"presigned image links last at most 7 days, but the HITs stay up {presign_seconds // 86400} days: "
                "shorten hit.lifetime_days in study.yaml or use --public-images"
            )
        self.target = target
        self.study_name = study_name
        self.presign_seconds = presign_seconds
        from botocore.config import Config

        session = session or boto3.Session()
        # SigV4 presigned links (the 7-day limit above is SigV4's; legacy SigV2 links are refused by newer regions).
        self.client = session.client("s3", config=Config(signature_version="s3v4"))
        self.uploaded = 0
        self.skipped = 0
        self._urls: dict[str, str] = {}
        self._plain: Any = None

    def _error(self, exc: Exception, what: str) -> BarlowError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return BarlowError("no AWS credentials found for the S3 image upload: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            return BarlowError(f"S3 {what} in s3://{self.target.bucket}: {err.get('Code')}: {err.get('Message')}")
        return BarlowError(f"S3 {what} in s3://{self.target.bucket}: {exc}")

    def url(self, study_dir: Path, relative: str) -> str:
        if relative in self._urls:
            return self._urls[relative]
        from botocore.exceptions import BotoCoreError, ClientError

        path = study_dir / relative
        key = self.target.key(self.study_name, relative)
        md5 = _md5(path)
        try:
            try:
                head = self.client.head_object(Bucket=self.target.bucket, Key=key)
                same = head.get("ETag", "").strip('"') == md5
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
                same = False
            if same:
                self.skipped += 1
            else:
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                with open(path, "rb") as fh:
                    self.client.put_object(Bucket=self.target.bucket, Key=key, Body=fh, ContentType=content_type, CacheControl="max-age=86400")
                self.uploaded += 1
            url = self._make_url(key)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc, f"upload of {relative}") from None
        self._urls[relative] = url
        return url

    def _make_url(self, key: str) -> str:
        params = {"Bucket": self.target.bucket, "Key": key}
        if self.presign_seconds is not None:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)
        from botocore import UNSIGNED
        from botocore.config import Config

        # An unsigned "presigned" URL is the object's plain address in the client's own
        # addressing style and endpoint (virtual-hosted on AWS, the configured one otherwise).
        if self._plain is None:
            self._plain = _unsigned_client(self.client, self.client.meta.config.merge(Config(signature_version=UNSIGNED)))
        return self._plain.generate_presigned_url("get_object", Params=params)


def _unsigned_client(client: Any, config: Any):
    import boto3

    return boto3.Session().client(
        "s3",
        region_name=client.meta.region_name,
        endpoint_url=client.meta.endpoint_url,
        config=config,
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
    )
