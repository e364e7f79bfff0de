"""Read RTP payloads out of the libpcap files sipp ships (Ethernet/IPv4/UDP)."""

from __future__ import annotations

import struct
from pathlib import Path

SIPP_PCAPS = Path("/usr/share/sip-tester")


def udp_payloads(path: Path) -> list[bytes]:
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic == 0xA1B2C3D4 else ">"
    link = struct.unpack_from(endian + "I", data, 20)[0]
    offset, out = 24, []
    while offset + 16 <= len(data):
        incl = struct.unpack_from(endian + "I", data, offset + 8)[0]
        frame = data[offset + 16: offset + 16 + incl]
        offset += 16 + incl
        ip = frame[14:] if link == 1 else frame
        if not ip or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        out.append(bytes(ip[ihl + 8:]))
    return out
