"""Writes phone-style MP4s for the sort benchmark: ftyp, a large mdat, then moov.

usage: mp4.py DIR COUNT MDAT_BYTES

Writes DIR/clip_00000.mp4 and on, their names carrying no date. Each moov holds
mvhd, one trak with tkhd and mdia/mdhd, stamped with a time that moves a few
hours per file from 2023-01-01 (stored, as the format says, in seconds since
1904, UTC), and udta/\xa9xyz with a GPS position as Android writes it (cycling
through Sydney, Los Angeles, Tokyo and Paris), so that dating them looks the
zone up as it would for a phone's videos.
"""

import struct
import sys

QUICKTIME_EPOCH_TO_UNIX = 2_082_844_800
START_UNIX = 1_672_531_200  # 2023-01-01T00:00:00Z
PLACES = [b"-33.8688+151.2093/", b"+34.0522-118.2437/", b"+35.6762+139.6503/", b"+48.8566+002.3522/"]


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body) + 8) + kind + body


def time_box(kind: bytes, seconds: int) -> bytes:
    # version 0, flags, creation and modification time, then the rest zeroed
    return box(kind, struct.pack(">I", 0) + struct.pack(">II", seconds, seconds) + bytes(80))


def position(iso6709: bytes) -> bytes:
    # A QuickTime text atom: length, language code, then the text.
    return box(b"udta", box(b"\xa9xyz", struct.pack(">HH", len(iso6709), 0x15C7) + iso6709))


def write_mp4(out: str, unix: int, mdat_len: int, place: bytes) -> None:
    seconds = unix + QUICKTIME_EPOCH_TO_UNIX
    trak = box(b"trak", time_box(b"tkhd", seconds) + box(b"mdia", time_box(b"mdhd", seconds)))
    moov = box(b"moov", time_box(b"mvhd", seconds) + trak + position(place))
    with open(out, "wb") as f:
        f.write(box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41"))
        f.write(struct.pack(">I", mdat_len + 8) + b"mdat")
        # Each clip's media data its own, as a camera's are: sort tells content
        # duplicates apart by size, then head, so zeroed clips of one size would make
        # it hash every video whole, a cost no real phone's videos bring.
        f.write(out.encode().ljust(64, b"\0") + bytes(mdat_len - 64))
        f.write(moov)


def main() -> None:
    folder, count, mdat_len = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for i in range(count):
        place = PLACES[i % len(PLACES)]
        clip_len = mdat_len + 4096 * (i % 64)  # videos differ in length
        write_mp4(f"{folder}/clip_{i:05d}.mp4", START_UNIX + i * 5 * 3600, clip_len, place)


if __name__ == "__main__":
    main()
