"""A file's kind is read from its bytes; files are kept by key in a local folder or in an S3 bucket (moto's server on
loopback, through the real boto3 client), and the settings that name them are checked at start."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.media.kinds import sniff
from bot.media.storage import LocalStorage, S3Storage, Storage, new_key, open_storage
from bot.settings import MediaSettings, SettingsError, load_settings
from tests.support.media import HTML, OGG_OPUS, PDF, png

SAMPLES = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/png": png(2, 2),
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "image/heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00",
    "audio/ogg": OGG_OPUS,
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "audio/amr": b"#!AMR\n\x3c",
    "audio/mp4": b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00",
    "audio/wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
    "application/pdf": PDF,
}


@pytest.mark.parametrize(("content_type", "head"), SAMPLES.items())
def test_each_accepted_kind_is_known_by_its_bytes(content_type: str, head: bytes) -> None:
    found = sniff(head, "application/octet-stream")
    assert found is not None and found.content_type == content_type


def test_mp3_frames_and_mp4_audio_declared_as_audio() -> None:
    assert sniff(b"\xff\xfb\x90\x64\x00")
    assert sniff(b"\xff\xfb\x90\x64\x00").content_type == "audio/mpeg"  # type: ignore[union-attr]
    mp4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00"
    assert sniff(mp4, "audio/mp4").content_type == "audio/mp4"  # type: ignore[union-attr]
    assert sniff(mp4, "video/mp4") is None  # a video is not kept


@pytest.mark.parametrize(
    "head",
    [HTML, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"MZ\x90\x00", b"PK\x03\x04", b"", b"\x00" * 64],
)
def test_anything_else_is_refused_whatever_it_claims(head: bytes) -> None:
    assert sniff(head, "image/jpeg") is None


def _round_trip(storage: Storage) -> None:
    key = new_key(__import__("datetime").datetime(2026, 12, 4), ".png")
    assert key.startswith("2026/12/") and key.endswith(".png") and len(key) == len("2026/12/") + 32 + 4
    assert storage.get(key) is None
    storage.put(key, png(), "image/png")
    assert storage.get(key) == png()
    storage.delete(key)
    assert storage.get(key) is None
    storage.delete(key)  # gone already is fine
    for bad in ("../etc/passwd", "/abs", "a//b", "a/./b", ""):
        with pytest.raises(ValueError, match="not a storage key"):
            storage.put(bad, b"x", "image/png")


def test_a_local_folder_keeps_files_privately(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    _round_trip(storage)
    key = "2026/12/abc.png"
    storage.put(key, png(), "image/png")
    path = tmp_path / "media" / "2026" / "12" / "abc.png"
    assert path.read_bytes() == png() and (path.stat().st_mode & 0o077) == 0
    assert not list(path.parent.glob("*.part"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 on loopback, with credentials the standard AWS way (the environment)."""
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_an_s3_bucket_keeps_files_through_boto3(s3_endpoint: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="loopline-media")
    storage = open_storage(MediaSettings(s3_bucket="loopline-media", s3_endpoint=s3_endpoint))
    assert isinstance(storage, S3Storage) and storage.describe() == f"bucket loopline-media at {s3_endpoint}"
    _round_trip(storage)
    storage.put("2026/12/kept.ogg", OGG_OPUS, "audio/ogg")
    head = boto3.client("s3", endpoint_url=s3_endpoint).head_object(Bucket="loopline-media", Key="2026/12/kept.ogg")
    assert head["ContentType"] == "audio/ogg"


def test_settings_name_the_folder_the_bucket_and_the_limit() -> None:
    base = {"LOOPLINE_DATABASE_URL": "sqlite:///./x.db"}
    assert load_settings(base).media == MediaSettings("./media", 10 * 1024 * 1024, None, None)
    given = load_settings(
        {
            **base,
            "LOOPLINE_MEDIA_MAX_MB": "2.5",
            "LOOPLINE_MEDIA_S3_BUCKET": "city-media",
            "LOOPLINE_MEDIA_S3_ENDPOINT": "http://127.0.0.1:9000/",
        }
    ).media
    assert given == MediaSettings("./media", int(2.5 * 1024 * 1024), "city-media", "http://127.0.0.1:9000")
    for name, value in (
        ("LOOPLINE_MEDIA_MAX_MB", "0"),
        ("LOOPLINE_MEDIA_MAX_MB", "nan"),
        ("LOOPLINE_MEDIA_MAX_MB", "500"),
        ("LOOPLINE_MEDIA_S3_BUCKET", "Not_A_Bucket"),
        ("LOOPLINE_MEDIA_S3_ENDPOINT", "ftp://x"),
    ):
        with pytest.raises(SettingsError) as raised:
            load_settings({**base, name: value})
        assert raised.value.variable == name
    with pytest.raises(SettingsError) as raised:
        load_settings({**base, "LOOPLINE_MEDIA_S3_ENDPOINT": "http://127.0.0.1:9000"})
    assert raised.value.variable == "LOOPLINE_MEDIA_S3_ENDPOINT"


def test_a_bad_media_setting_stops_serve_with_one_line_and_status_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "LOOPLINE_MEDIA_MAX_MB": "lots"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "LOOPLINE_MEDIA_MAX_MB" in done.stderr


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_media_folder_that_cannot_be_written_stops_serve_and_worker_in_one_line(tmp_path: Path, command: str) -> None:
    import subprocess
    import sys

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")},
        "LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "LOOPLINE_MEDIA_DIR": str(blocked / "media"),
    }
    if command == "worker":
        subprocess.run([sys.executable, "-m", "bot", "migrate"], env=env, capture_output=True, timeout=60, check=True)
    done = subprocess.run(
        [sys.executable, "-m", "bot", command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "LOOPLINE_MEDIA_DIR: cannot write to the folder" in done.stderr


def test_the_local_folder_is_made_and_checked(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "media"
    LocalStorage(folder).check()
    assert folder.is_dir() and list(folder.iterdir()) == []  # the probe file is gone
