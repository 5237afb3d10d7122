#!/usr/bin/env python3
"""Generates the folders QEMU's usb-mtp device serves in the guest, and prints the path.

  make-fixture.py test    small photos with EXIF dates, a 300 MiB video, names with spaces
                          and Unicode, edge-case sizes, an empty folder
  make-fixture.py bench   big/: one 256 MiB file; tree/: 10,000 small files in 100 folders
  make-fixture.py phone --phone N [--video-mib M]
                          phone N of several plugged in together: a photo under the same
                          path, size and date as on every other phone but its own bytes, a
                          picture every phone holds, and its own M MiB video (default 48)

Output (under target/vm/fixtures/KIND/ unless --out is given):
  root/          the folder to pass to run-guest.sh --fixture
  manifest.json  every file (path, size, sha256, capture time where it has one) and folder
  SHA256SUMS     the same hashes in `sha256sum -c` format, paths relative to root/

Everything is deterministic (seeded data, fixed mtimes) and made without the network or
image libraries: the JPEG and MP4 containers are written here byte by byte, so the
fixture has exactly the metadata the tests expect. A fixture is rebuilt only when this
script changes. Nothing here is committed: target/ is ignored.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import sys
from datetime import datetime, timezone
from pathlib import Path

from hashing import sha256_of

REPO_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

# The device reports mtime as DateModified; fixing it makes "the device's date" testable.
DEVICE_MTIME = datetime(2020, 6, 15, 12, 0, 0, tzinfo=timezone.utc)


# ---- JPEG ---------------------------------------------------------------------------------

def tiff_ifd(entries, base, next_ifd=0):
    """One little-endian TIFF IFD at offset `base`; entries are (tag, type, count, bytes).
    Returns the IFD followed by the values that do not fit in the 4-byte slot."""
    entries = sorted(entries)  # TIFF requires ascending tags
    table_size = 2 + 12 * len(entries) + 4
    table = struct.pack("<H", len(entries))
    overflow = b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            offset = base + table_size + len(overflow)
            table += struct.pack("<HHII", tag, kind, count, offset)
            overflow += value + (b"\0" if len(value) % 2 else b"")  # word-aligned
    return table + struct.pack("<I", next_ifd) + overflow


def ascii_entry(tag, text):
    data = text.encode("ascii") + b"\0"
    return (tag, 2, len(data), data)


def exif_segment(taken, offset_time=None):
    """APP1 with IFD0 (Make, Model, DateTime) and an Exif IFD with DateTimeOriginal."""
    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif_entries = [ascii_entry(0x9003, stamp), ascii_entry(0x9004, stamp)]  # Original, Digitized
    if offset_time:
        exif_entries.append(ascii_entry(0x9011, offset_time))  # OffsetTimeOriginal
    ifd0_entries = [ascii_entry(0x010F, "mtpull"), ascii_entry(0x0110, "fixture camera"),
                    ascii_entry(0x0132, stamp)]
    # IFD0 starts right after the 8-byte TIFF header; its size does not depend on the value
    # of the Exif IFD pointer, so it is built once with a placeholder to learn its length.
    pointer = lambda at: (0x8769, 4, 1, struct.pack("<I", at))
    ifd0_len = len(tiff_ifd(ifd0_entries + [pointer(0)], 8))
    ifd0 = tiff_ifd(ifd0_entries + [pointer(8 + ifd0_len)], 8)
    exif_ifd = tiff_ifd(exif_entries, 8 + ifd0_len)
    tiff = b"II*\0" + struct.pack("<I", 8) + ifd0 + exif_ifd
    body = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_segment(marker, body):
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def gray_jpeg(gray, width=64, height=48, exif=b""):
    """A baseline greyscale JPEG of one flat tone: with a unit quantisation table every
    8x8 block has only a DC coefficient, so two one-symbol Huffman tables encode it."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    dc = 8 * (gray - 128)  # DC of a flat level-shifted block
    category = abs(dc).bit_length()
    assert category > 0, "a tone of 128 would need a different DC table"
    # DC symbols: category 0 (difference 0, every block after the first) and `category`.
    dht_dc = bytes([0x00]) + bytes([1, 1] + [0] * 14) + bytes([0, category])
    dht_ac = bytes([0x10]) + bytes([1] + [0] * 15) + bytes([0x00])  # only EOB
    bits = "10" + format(dc if dc > 0 else dc + (1 << category) - 1, f"0{category}b") + "0"
    bits += "00" * (blocks - 1)  # DC difference 0 ("0"), then EOB ("0")
    bits += "1" * (-len(bits) % 8)
    scan = bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")
    return (b"\xff\xd8" + exif
            + jpeg_segment(0xDB, bytes([0]) + bytes([1] * 64))
            + jpeg_segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0]))
            + jpeg_segment(0xC4, dht_dc) + jpeg_segment(0xC4, dht_ac)
            + jpeg_segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
            + scan + b"\xff\xd9")


# ---- MP4 ----------------------------------------------------------------------------------

MP4_EPOCH = datetime(1904, 1, 1, tzinfo=timezone.utc)


def box(kind, payload):
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def write_mp4(path, total_size, created_utc, rng):
    """ftyp, a large mdat of seeded noise, then moov/mvhd with the creation time — moov at
    the end, as phones write it, so a dating parser has to read the file's tail."""
    seconds = int((created_utc - MP4_EPOCH).total_seconds())
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(b"mvhd", struct.pack(">B3xIIII", 0, seconds, seconds, 1000, 10_000)
               + struct.pack(">IH10x", 0x10000, 0x100) + matrix + bytes(24) + struct.pack(">I", 2))
    head = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    tail = box(b"moov", mvhd)
    payload = total_size - len(head) - len(tail) - 8
    with open(path, "wb") as out:
        out.write(head + struct.pack(">I", 8 + payload) + b"mdat")
        write_noise(out, payload, rng)
        out.write(tail)


def write_noise(out, size, rng):
    while size:
        chunk = min(size, 4 * MIB)
        out.write(rng.randbytes(chunk))
        size -= chunk


# ---- fixtures -----------------------------------------------------------------------------

def utc(*fields):
    return datetime(*fields, tzinfo=timezone.utc)


def build_test(root, rng):
    """Returns {relative path: capture time or None}."""
    photos = [
        # path, gray tone, EXIF DateTimeOriginal (camera-local time), OffsetTimeOriginal
        ("DCIM/Camera/IMG_20230714_101502.jpg", 40, datetime(2023, 7, 14, 10, 15, 2), None),
        ("DCIM/Camera/PXL_20240229_235958123.jpg", 70, datetime(2024, 2, 29, 23, 59, 58), "+01:00"),
        ("DCIM/Camera/IMG_20211231_233000.jpg", 100, datetime(2021, 12, 31, 23, 30, 0), None),
        ("Pictures/Été 2023/plage à Nice.jpg", 160, datetime(2023, 8, 15, 17, 45, 0), "+02:00"),
        ("Pictures/日本 旅行/東京 タワー.jpg", 190, datetime(2019, 4, 1, 9, 0, 0), None),
    ]
    capture = {}
    for path, gray, taken, offset in photos:
        write(root / path, gray_jpeg(gray, exif=exif_segment(taken, offset)))
        capture[path] = {"exif_datetime_original": taken.strftime("%Y:%m:%d %H:%M:%S")}
        if offset:
            capture[path]["exif_offset_time_original"] = offset
    # Undated photos: one whose name carries the date, one with only the device's date.
    write(root / "DCIM/Camera/IMG_20220101_120000.jpg", gray_jpeg(210))
    capture["DCIM/Camera/IMG_20220101_120000.jpg"] = None
    write(root / "Pictures/scan without date.jpg", gray_jpeg(230))
    capture["Pictures/scan without date.jpg"] = None

    video = "DCIM/Camera/VID_20230801_183000.mp4"
    write_mp4(root / video, 300 * MIB, utc(2023, 8, 1, 16, 30, 0), rng)
    capture[video] = {"mp4_creation_time_utc": "2023-08-01T16:30:00Z"}

    # Transfer edge cases: a data phase of 12 + 500 bytes ends exactly on a 512-byte packet
    # boundary (a zero-length packet follows); 1012 does so on the second packet.
    write(root / "Documents/empty.txt", b"")
    capture["Documents/empty.txt"] = None
    for size in (500, 1012):
        path = f"Documents/boundary-{size}.bin"
        write(root / path, rng.randbytes(size))
        capture[path] = None
    (root / "Music").mkdir(parents=True)  # an empty folder
    return capture


def build_bench(root, rng):
    """big/: a 256 MiB file for throughput; tree/: 100 x 100 small files for listing speed.
    The benchmark serves each as its own device: libmtp's tools walk the whole device
    before a download, and a download should not be timed together with a 10k listing."""
    capture = {}
    (root / "big").mkdir()
    with open(root / "big/bench-256MiB.bin", "wb") as out:
        write_noise(out, 256 * MIB, rng)
    capture["big/bench-256MiB.bin"] = None
    for folder in range(100):
        for index in range(100):
            path = f"tree/folder_{folder:03d}/IMG_{folder:03d}_{index:03d}.jpg"
            write(root / path, rng.randbytes(64))
            capture[path] = None
    return capture


def build_phone(root, rng, number, video_mib):
    """Phone `number` of several into one library (tests/vm/multi-phone.sh, bench/multi)."""
    capture = {}
    # The same key on every phone (path, size, device date): only the bytes differ.
    same_key = "DCIM/Camera/IMG_0001.jpg"
    taken = datetime(2024, 5, 1, 9, 30, 0)
    write(root / same_key, gray_jpeg(20 + 10 * number, exif=exif_segment(taken)).ljust(16 * 1024, b"\0"))
    capture[same_key] = {"exif_datetime_original": taken.strftime("%Y:%m:%d %H:%M:%S")}
    # A picture every phone was sent: filed once.
    shared = "Pictures/WhatsApp/IMG-20240102-WA0001.jpg"
    sent = datetime(2024, 1, 2, 18, 0, 0)
    write(root / shared, gray_jpeg(200, exif=exif_segment(sent)))
    capture[shared] = {"exif_datetime_original": sent.strftime("%Y:%m:%d %H:%M:%S")}
    video = f"DCIM/Camera/VID_2023080{number}_183000.mp4"
    write_mp4(root / video, video_mib * MIB, utc(2023, 8, number, 16, 30, 0), rng)
    capture[video] = {"mp4_creation_time_utc": f"2023-08-0{number}T16:30:00Z"}
    return capture


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)



def write_manifest(stage, root, capture):
    files = []
    mtime = DEVICE_MTIME.timestamp()
    for path in sorted(capture):
        full = root / path
        os.utime(full, (mtime, mtime))
        entry = {"path": path, "size": full.stat().st_size, "sha256": sha256_of(full),
                 "mtime_utc": DEVICE_MTIME.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if capture[path]:
            entry.update(capture[path])
        files.append(entry)
    folders = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())
    manifest = {"storage_description": "mtpull fixture", "files": files, "folders": folders}
    (stage / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    (stage / "SHA256SUMS").write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in files))


BUILDERS = {"test": build_test, "bench": build_bench, "phone": build_phone}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=BUILDERS)
    parser.add_argument("--out", type=Path, help="default: target/vm/fixtures/KIND")
    parser.add_argument("--phone", type=int, choices=range(1, 10), default=1)
    parser.add_argument("--video-mib", type=int, default=48)
    args = parser.parse_args()
    build = BUILDERS[args.kind]
    name = args.kind
    if args.kind == "phone":
        name = f"phone{args.phone}-{args.video_mib}MiB"
        build = lambda root, rng: build_phone(root, rng, args.phone, args.video_mib)
    out = (args.out or REPO_ROOT / "target/vm/fixtures" / name).resolve()

    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    stamp = out / "stamp"
    if stamp.exists() and stamp.read_text() == key:
        print(out / "root")
        return

    stage = out.with_name(out.name + ".tmp")
    shutil.rmtree(stage, ignore_errors=True)
    root = stage / "root"
    root.mkdir(parents=True)
    capture = build(root, random.Random(f"mtpull-{name}-fixture"))
    write_manifest(stage, root, capture)
    (stage / "stamp").write_text(key)
    shutil.rmtree(out, ignore_errors=True)
    stage.rename(out)
    print(out / "root")


if __name__ == "__main__":
    sys.exit(main())
