#!/usr/bin/env python3
"""Lists the dynamic symbols of an ELF64 shared library: undefined ones
(what it needs from others) or defined ones (what it exports).

  python3 scripts/elf_symbols.py --undefined LIB [--prefix nccl]
  python3 scripts/elf_symbols.py --defined LIB [--prefix nccl]

Used to check that this build's libnccl.so.2 exports every NCCL function a
framework's library (libtorch_cuda.so, say) was linked against, on machines
without binutils.
"""
import argparse
import struct
import sys


def dynamic_symbols(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit(f"{path}: not an ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        name, stype, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize)
        sections.append((stype, off, size, link, entsize))
    for stype, off, size, link, entsize in sections:
        if stype != 11:  # SHT_DYNSYM
            continue
        stroff = sections[link][1]
        for k in range(size // entsize):
            name, info, other, shndx, value, sz = struct.unpack_from("<IBBHQQ", data, off + k * entsize)
            end = data.index(b"\0", stroff + name)
            yield data[stroff + name:end].decode(), shndx != 0, info >> 4


def main():
    ap = argparse.ArgumentParser()
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--undefined", action="store_true")
    group.add_argument("--defined", action="store_true")
    ap.add_argument("lib")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args()
    names = set()
    for name, defined, bind in dynamic_symbols(a.lib):
        if not name.startswith(a.prefix) or bind == 0:  # skip local symbols
            continue
        if defined == a.defined:
            names.add(name.split("@")[0])
    print("\n".join(sorted(names)))


if __name__ == "__main__":
    main()
