#!/usr/bin/env python3
"""Function symbols of an executable, and the link order made from fcov's hit lists.

  functions.py BINARY                 -> "fileoffset size name" for every function (hex), by offset
  functions.py --order FUNCS HITS...  -> the names of the functions hit, first hit first, once each
"""
import subprocess
import sys


def functions(binary):
    headers = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    loads = []
    for line in headers.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    symbols = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in symbols.splitlines():
        f = line.split(None, 3)
        if len(f) != 4 or f[2] not in "tTwW" or int(f[1], 16) == 0:
            continue
        address = int(f[0], 16)
        for offset, vaddr, size in loads:
            if vaddr <= address < vaddr + size:
                found.setdefault(address - vaddr + offset, (int(f[1], 16), f[3]))
                break
    for offset, (size, name) in sorted(found.items()):
        print(f"{offset:x} {size:x} {name}")


def order(funcs, hits):
    names = {}
    for line in open(funcs):
        offset, _, name = line.rstrip("\n").split(" ", 2)
        names[int(offset, 16)] = name
    seen = set()
    for path in hits:
        for line in open(path):
            name = names.get(int(line, 16))
            if name and name not in seen:
                seen.add(name)
                print(name)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--order":
        order(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 2:
        functions(sys.argv[1])
    else:
        sys.exit(__doc__)
