#!/usr/bin/env python3
"""libmtp's leg of the download race where object ids change from session to session.

  libmtp-get.py NAME DEST

mtp-getfile takes an object id, and a phone (the simulated Android phone too) numbers its
objects anew in every session: an id that mtp-files printed names nothing in mtp-getfile's
session. This does what mtp-getfile does — LIBMTP_Get_First_Device, LIBMTP_Get_File_To_File
— with the id looked up by name in the same session (LIBMTP_Get_Filelisting_With_Callback),
through libmtp's own shared library. Exits 0 when the file was written.
"""

import ctypes
import sys
from ctypes import POINTER, c_char_p, c_int, c_long, c_uint32, c_uint64, c_void_p


class MtpFile(ctypes.Structure):
    """LIBMTP_file_t (libmtp.h)."""


MtpFile._fields_ = [
    ("item_id", c_uint32),
    ("parent_id", c_uint32),
    ("storage_id", c_uint32),
    ("filename", c_char_p),
    ("filesize", c_uint64),
    ("modificationdate", c_long),
    ("filetype", c_int),
    ("next", POINTER(MtpFile)),
]


def main():
    name, dest = sys.argv[1].encode(), sys.argv[2].encode()
    lib = ctypes.CDLL("libmtp.so.9")
    lib.LIBMTP_Get_First_Device.restype = c_void_p
    lib.LIBMTP_Get_Filelisting_With_Callback.restype = POINTER(MtpFile)
    lib.LIBMTP_Get_Filelisting_With_Callback.argtypes = [c_void_p, c_void_p, c_void_p]
    lib.LIBMTP_Get_File_To_File.argtypes = [c_void_p, c_uint32, c_char_p, c_void_p, c_void_p]
    lib.LIBMTP_Release_Device.argtypes = [c_void_p]
    lib.LIBMTP_Init()
    device = lib.LIBMTP_Get_First_Device()
    if not device:
        print("libmtp-get: no device", file=sys.stderr)
        return 1
    entry = lib.LIBMTP_Get_Filelisting_With_Callback(device, None, None)
    item = None
    while entry:
        if entry.contents.filename == name:
            item = entry.contents.item_id
            break
        entry = entry.contents.next
    if item is None:
        print(f"libmtp-get: {sys.argv[1]} not found on the device", file=sys.stderr)
        lib.LIBMTP_Release_Device(device)
        return 1
    status = lib.LIBMTP_Get_File_To_File(device, item, dest, None, None)
    lib.LIBMTP_Release_Device(device)
    if status != 0:
        print(f"libmtp-get: LIBMTP_Get_File_To_File failed ({status})", file=sys.stderr)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
