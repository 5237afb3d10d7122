"""Writes phone-style MP4s for the sort benchmark: ftyp, a large mdat, then moov.

usage: mp4.py DIR COUNT MDAT_BYTES

Writes DIR/clip_00000.mp4 and on, their names carrying no date. Each moov holds
mvhd, and one trak with tkhd and mdia/mdhd, stamped with a time that moves a
few hours per file from 2023-01-01 (stored, as the format says, in seconds
since 1904, UTC).
"""

import struct
import sys

QUICKTIME_EPOCH_TO_UNIX = 2_082_844_800
START_UNIX = 1_672_531_200  # 2023-01-01T00:00:00Z


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body) + 8) + kind + body


def time_box(kind: bytes, seconds: int) -> bytes:
    # version 0, flags, creation and modification time, then the rest zeroed
    return box(kind, struct.pack(">I", 0) + struct.pack(">II", seconds, seconds) + bytes(80))


def write_mp4(out: str, unix: int, mdat_len: int) -> None:
    seconds = unix + QUICKTIME_EPOCH_TO_UNIX
    trak = box(b"trak", time_box(b"tkhd", seconds) + box(b"mdia", time_box(b"mdhd", seconds)))
    moov = box(b"moov", time_box(b"mvhd", seconds) + trak)
    with open(out, "wb") as f:
        f.write(box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41"))
        f.write(struct.pack(">I", mdat_len + 8) + b"mdat")
        f.write(bytes(mdat_len))
        f.write(moov)


def main() -> None:
    folder, count, mdat_len = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for i in range(count):
        write_mp4(f"{folder}/clip_{i:05d}.mp4", START_UNIX + i * 5 * 3600, mdat_len)


if __name__ == "__main__":
    main()
