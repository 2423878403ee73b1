#!/usr/bin/env python3
"""Runs the generated C of a fixed-point network on saved input codes and compares its output codes
with the integer runtime's.

  experiments/codegen/check.py --code DIR --name NAME --inputs X.npy --codes CODES.npy [--cc cc]

Compiles DIR/NAME.c with a small driver (C99, -Wall -Werror, UBSan) that reads the raw input codes
of every sample from stdin and writes the raw output codes to stdout, runs it on X.npy (as written by
`fxnn infer --save-inputs`) and counts the output codes that differ from CODES.npy (`--save-output`).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

C_TYPES = {"uint8_t": np.uint8, "int8_t": np.int8, "int16_t": np.int16, "int32_t": np.int32, "int64_t": np.int64}


def typedef_of(header, name, what):
    for line in header.splitlines():
        parts = line.replace(";", " ").split()
        if parts[:1] == ["typedef"] and parts[-1] == f"{name}_{what}_t":
            return parts[1]
    sys.exit(f"check.py: {name}.h: no typedef of {name}_{what}_t")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--code", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--codes", required=True)
    p.add_argument("--cc", default="cc")
    a = p.parse_args()
    header = open(os.path.join(a.code, a.name + ".h")).read()
    in_t, out_t = typedef_of(header, a.name, "input"), typedef_of(header, a.name, "output")
    n = a.name
    driver = f"""#include <stdio.h>
#include "{n}.h"
int main(void) {{
  static {n}_input_t x[{n.upper()}_INPUT_SIZE];
  static {n}_output_t y[{n.upper()}_OUTPUT_SIZE];
  while (fread(x, sizeof x, 1, stdin) == 1) {{
    {n}(x, y);
    if (fwrite(y, sizeof y, 1, stdout) != 1) return 1;
  }}
  return 0;
}}
"""
    x = np.load(a.inputs)
    expected = np.load(a.codes)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "driver.c"), "w") as f:
            f.write(driver)
        binary = os.path.join(tmp, "net")
        subprocess.run([a.cc, "-std=c99", "-O2", "-Wall", "-Werror", "-fsanitize=undefined", "-fno-sanitize-recover=all",
                        "-I", a.code, os.path.join(a.code, a.name + ".c"), os.path.join(tmp, "driver.c"), "-o", binary],
                       check=True)
        raw = x.astype(C_TYPES[in_t]).reshape(len(x), -1).tobytes()
        out = subprocess.run([binary], input=raw, stdout=subprocess.PIPE, check=True).stdout
    got = np.frombuffer(out, dtype=C_TYPES[out_t]).reshape(expected.shape).astype(np.int64)
    diff = int((got != expected.astype(np.int64)).sum())
    print(f"{a.name}: {len(x)} samples, {diff} of {expected.size} output codes differ from the runtime's, "
          f"{int((got.argmax(1) != expected.argmax(1)).sum())} predictions differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
