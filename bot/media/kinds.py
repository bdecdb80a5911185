"""What a file really is, read from its first bytes (magic numbers), never only from what the sender declared: the
images, audio and PDF residents may send, with the extension each is stored under."""

from __future__ import annotations

from dataclasses import dataclass

HEAD_BYTES = 64  # enough of the start of a file to tell every accepted kind apart


@dataclass(frozen=True, slots=True)
class Kind:
    """An accepted kind of file: its Content-Type, the extension it is stored and downloaded with, and how it is
    shown (an image, an audio player, or a link to a document)."""

    content_type: str
    extension: str
    shown_as: str  # "image", "audio" or "document"


JPEG = Kind("image/jpeg", ".jpg", "image")
PNG = Kind("image/png", ".png", "image")
GIF = Kind("image/gif", ".gif", "image")
WEBP = Kind("image/webp", ".webp", "image")
HEIC = Kind("image/heic", ".heic", "image")
OGG = Kind("audio/ogg", ".ogg", "audio")
MP3 = Kind("audio/mpeg", ".mp3", "audio")
AAC = Kind("audio/aac", ".aac", "audio")
AMR = Kind("audio/amr", ".amr", "audio")
M4A = Kind("audio/mp4", ".m4a", "audio")
WAV = Kind("audio/wav", ".wav", "audio")
PDF = Kind("application/pdf", ".pdf", "document")
KINDS = {kind.content_type: kind for kind in (JPEG, PNG, GIF, WEBP, HEIC, OGG, MP3, AAC, AMR, M4A, WAV, PDF)}

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ")
_MP4_BRANDS = (b"isom", b"iso2", b"mp41", b"mp42", b"3gp4", b"3gp5", b"3gp6", b"dash")


def _iso_media(head: bytes, declared: str) -> Kind | None:
    """An ISO media file (…ftyp…): a HEIF photo, or audio in MP4 (M4A, or a plain MP4 brand declared as audio); a
    video is not accepted."""
    brand = head[8:12]
    if brand in _HEIF_BRANDS:
        return HEIC
    if brand in _AUDIO_MP4_BRANDS or (brand in _MP4_BRANDS and declared.startswith("audio/")):
        return M4A
    return None


def _mpeg_audio(head: bytes) -> Kind | None:
    """MP3 (an ID3 tag or an MPEG audio frame) or AAC in ADTS frames."""
    if head.startswith(b"ID3"):
        return MP3
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS: sync word, layer 00
            return AAC
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0:  # frame sync, a layer given
            return MP3
    return None


_PREFIXES = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"OggS", OGG),
    (b"#!AMR", AMR),
    (b"%PDF-", PDF),
)


def sniff(head: bytes, declared: str | None = None) -> Kind | None:
    """The accepted kind the bytes show, or None (anything else: a video, a web page, an executable, an SVG)."""
    declared = (declared or "").split(";")[0].strip().lower()
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    if head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"WAVE"):
        return WEBP if head[8:12] == b"WEBP" else WAV
    if head[4:8] == b"ftyp":
        return _iso_media(head, declared)
    return _mpeg_audio(head)


def described(kind: Kind | None) -> str:
    """Plain words for staff: what the file is."""
    if kind is None:
        return "file"
    return {"image": "photo", "audio": "audio recording"}.get(kind.shown_as, "PDF document")
