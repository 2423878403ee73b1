#!/usr/bin/env python3
"""Lists the floating-point instructions in the assembly of generated C (the same rule as the tests'
tests/support/float_free.h: SSE/AVX arithmetic, comparisons and conversions, x87, AArch64).

  experiments/codegen/float_free.py DIR NAME [--cc cc]

Compiles DIR/NAME.c with -std=c99 -O2 -S and prints "NAME: N floating-point instructions" (then
each one); exit status 1 when there is any.
"""

import argparse
import re
import subprocess
import sys
import tempfile

FLOAT = re.compile(
    r"v?(add|sub|mul|div|sqrt|min|max|round|rcp|rsqrt|hadd|hsub|addsub|dp)(ss|sd|ps|pd)"
    r"|v?cmp[a-z]*(ss|sd|ps|pd)|v?u?comis[sd]|v?cvt[a-z0-9]*|vfn?m(add|sub)[a-z0-9]*"
    r"|f(ld|st|add|sub|mul|div|com|ucom|ild|ist|isttp|chs|abs|sqrt|xch|rndint|scale|prem|ldz|ld1|init|ninit|free)[a-z0-9]*"
    r"|fmadd|fmsub|fnmadd|fnmsub|fneg|fcmpe?|fccmpe?|fcsel|fmaxn?m?|fminn?m?|fcvt[a-z]*|scvtf|ucvtf|frint[a-z]*")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("name")
    p.add_argument("--cc", default="cc")
    a = p.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".s") as asm:
        subprocess.run([a.cc, "-std=c99", "-O2", "-S", "-I", a.dir, f"{a.dir}/{a.name}.c", "-o", asm.name], check=True)
        lines = open(asm.name).read().splitlines()
    found = []
    for line in lines:
        text = line.strip()
        if not text or text.startswith((".", "#")) or text.endswith(":"):
            continue
        mnemonic = text.split()[0]
        if FLOAT.fullmatch(mnemonic):
            found.append(text)
    print(f"{a.name}: {len(found)} floating-point instructions in {len(lines)} lines of assembly")
    for f in found[:20]:
        print("  " + f)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
