"""Writes the sort benchmark's photos and screenshots, each file distinct, as a phone's are.

usage: copies.py photos DIR COUNT BASE.jpg...
       copies.py screenshots DIR COUNT SHOT.png

A phone never holds two photos with the same bytes, and mtpull files a content it has
already filed only once: plain copies of a few base images would let it skip most of
the work that exiftool does. So each photo is a base image (cycling through BASE...,
which carry the EXIF dates) with a JPEG comment segment after its APPn segments that
names the photo, padded to a length that grows with its number, so that no two photos
share their bytes or their size; each screenshot is SHOT.png with a tEXt chunk before
IEND, made distinct the same way. The images themselves are unchanged.
"""

import struct
import sys
import zlib

# Padding cycles below the JPEG segment limit (65,533 bytes of payload).
PAD_CYCLE = 60_000


def padded(text: str, number: int) -> bytes:
    return (text + " " * (number % PAD_CYCLE)).encode()


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The JPEG with a COM segment inserted before its first segment that is not APPn."""
    at = 2  # after SOI
    while jpeg[at] == 0xFF and 0xE0 <= jpeg[at + 1] <= 0xEF:
        at += 2 + struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
    return jpeg[:at] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[at:]


def with_text(png: bytes, text: bytes) -> bytes:
    """The PNG with a tEXt chunk inserted before IEND (its last 12 bytes)."""
    body = b"Comment\0" + text
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return png[:-12] + chunk + png[-12:]


def main() -> None:
    kind, folder, count, bases = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    images = [open(base, "rb").read() for base in bases]
    for i in range(count):
        if kind == "photos":
            name = f"IMG_{i:05d}.jpg"
            data = with_comment(images[i % len(images)], padded(f"mtpull bench photo {i}", i))
        else:
            name = f"Screenshot_202405{i % 28 + 1:02d}-1{i:05d}.png"
            data = with_text(images[0], padded(f"mtpull bench screenshot {i}", i))
        with open(f"{folder}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
