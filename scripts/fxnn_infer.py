#!/usr/bin/env python3
"""Evaluates an exported fxnn fixed-point network with numpy integer arithmetic only.

Reads nothing but the network folder (model.json and its .npy files, docs/fixed-point-network.md)
and an input array, and computes every node with int64 numpy operations as the equations of the
format say: (1) convolution, (2) dense, (3) requantization, then pooling, add and flatten. It is an
independent implementation of the format: fxnn's tests and `fxnn infer` compare it with the C++
integer runtime bit for bit.

It reads the folder as strictly as fxnn does: the same rules, the same limits (the list is in
docs/fixed-point-network.md, "What a reader checks"), and a folder that `fxnn infer` refuses is
refused here too, with one line `fxnn_infer.py: error: FILE: WHAT` and exit status 1.

  scripts/fxnn_infer.py --model OUT --input X.npy [--labels Y.npy] [--output CODES.npy]
                        [--predictions P.npy] [--batch 500]

X.npy: input codes [N, ...input shape] of the network's input format (for images: uint8 pixels).
Prints the number of samples and, with --labels, the accuracy of the predictions (argmax of the
output codes, the first index on ties).
"""

import argparse
import json
import os
import re
import sys

import numpy as np

# The constants of the C++ reader, under their C++ names, so that a change there is found here.
kManifestFormat = "fxnn-fixed-point-network"  # include/fxnn/ir/network_files.h
kManifestFile = "model.json"                  # include/fxnn/ir/network_files.h
kMaxManifestDepth = 16                        # include/fxnn/ir/network_files.h
kFormatVersion = 1                            # include/fxnn/ir/fixed_point_network.h
kMaxTensorElements = 1 << 31                  # include/fxnn/ir/fixed_point_network.h
kMaxShift = 62                                # include/fxnn/ir/worst_case.h
kMaxBits = 62                                 # Format::kMaxBits, include/fxnn/core/format.h
kMaxFrac = 126                                # Format::kMaxFrac, include/fxnn/core/format.h
kSmallIntegerLimit = 1 << 30                  # src/ir/network_files.cpp
kMaxNameLength = 200                          # src/ir/fixed_point_network.cpp
kMagic = b"\x93NUMPY"                         # src/io/npy.cpp
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# The .npy element types of a network folder (src/io/npy.cpp, parse_descr): little-endian signed.
NPY_SIGNED = {"|i1": 1, "<i1": 1, "<i2": 2, "<i4": 4, "<i8": 8}
# --input and --labels are the user's arrays: unsigned types too (uint8 pixels).
NPY_INTEGER = dict(NPY_SIGNED, **{"|u1": 1, "<u1": 1, "<u2": 2, "<u4": 4, "<u8": 8})
NPY_SPACE = " \t\n\v\f\r"  # std::isspace in the C locale

OPS = ("rescale", "conv2d", "dense", "maxpool", "avgpool", "add", "flatten")
ROUNDINGS = ("nearest", "stochastic", "floor")  # parse_rounding; validation takes nearest and floor
# Required and optional keys of a node, per op (ManifestReader::read_node).
NODE_KEYS = {
    "conv2d": (("name", "op", "inputs", "output_format", "output_shape", "weight", "kernel", "stride", "padding",
                "accumulator_bits", "requantize"), ()),
    "dense": (("name", "op", "inputs", "output_format", "output_shape", "weight", "accumulator_bits", "requantize"),
              ()),
    "maxpool": (("name", "op", "inputs", "output_format", "output_shape", "kernel", "stride"), ("padding",)),
    "avgpool": (("name", "op", "inputs", "output_format", "output_shape", "kernel", "stride", "requantize"),
                ("padding", "accumulator_bits")),
    "rescale": (("name", "op", "inputs", "output_format", "output_shape", "requantize"), ("accumulator_bits",)),
    "add": (("name", "op", "inputs", "output_format", "output_shape", "requantize"), ("accumulator_bits",)),
    "flatten": (("name", "op", "inputs", "output_format", "output_shape"), ()),
}
FORMAT_SPELLING = re.compile(r"([su])(0|[1-9][0-9]*)\.(auto|0|-?[1-9][0-9]*)")


class Refusal(Exception):
    """A file that breaks a rule: ends the program with one line naming the file."""

    def __init__(self, file, what):
        super().__init__(f"{file}: {what}")
        self.file, self.what = file, what


def one_line(text):
    """Control characters written \\xNN, as the C++ reader does: a name from the file cannot break the line."""
    return "".join(c if " " <= c != "\x7f" else f"\\x{ord(c):02x}" for c in str(text))


def fail(message):
    print(f"fxnn_infer.py: error: {one_line(message)}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------------
# Formats (include/fxnn/core/format.h)


class Format:
    def __init__(self, signed, bits, frac):
        self.signed, self.bits, self.frac = signed, bits, frac

    def code_min(self):
        return -(1 << (self.bits - 1)) if self.signed else 0

    def code_max(self):
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def max_abs_code(self):
        return max(abs(self.code_min()), abs(self.code_max()))

    def __eq__(self, other):
        return (self.signed, self.bits, self.frac) == (other.signed, other.bits, other.frac)

    def __str__(self):
        return f"{'s' if self.signed else 'u'}{self.bits}.{self.frac}"


def parse_format(text):
    """A fixed format written as fxnn writes it ('s8.7', 'u8.0', 's12.-2'); else a ValueError.
    Format::parse, the word-length and fractional-bit ranges of Format, no 'auto', one spelling."""
    m = FORMAT_SPELLING.fullmatch(text)
    if not m:
        raise ValueError(f"bad fixed-point format {text!r}: expected e.g. s8.7 or u8.0, written as fxnn writes it")
    signed, bits = m.group(1) == "s", int(m.group(2))
    if not (2 if signed else 1) <= bits <= kMaxBits:
        raise ValueError(f"bad fixed-point format {text!r}: word length must be in [{2 if signed else 1}, {kMaxBits}]")
    if m.group(3) == "auto":
        raise ValueError(f"format {text} must be fixed, not auto")
    frac = int(m.group(3))
    if not -kMaxFrac <= frac <= kMaxFrac:
        raise ValueError(f"bad fixed-point format {text!r}: fractional bits must be in [-{kMaxFrac}, {kMaxFrac}]")
    return Format(signed, bits, frac)


# ---------------------------------------------------------------------------------------------------
# .npy files (src/io/npy.cpp, decode_npy): parsed here, checked before anything is allocated.


class NpyHeaderParser:
    """The header dict, a Python literal such as {'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }:
    strings, booleans and tuples of non-negative integers, nothing else (HeaderParser in src/io/npy.cpp)."""

    def __init__(self, text, what):
        self.text, self.what, self.pos = text, what, 0

    def fail(self, why):
        raise Refusal(self.what, f"bad .npy header ({why} at character {self.pos} of {self.text!r})")

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else "\0"

    def skip_spaces(self):
        while self.pos < len(self.text) and self.text[self.pos] in NPY_SPACE:
            self.pos += 1

    def expect(self, c):
        self.skip_spaces()
        if self.peek() != c:
            self.fail(f"expected {c!r}")
        self.pos += 1

    def parse_string(self):
        self.skip_spaces()
        quote = self.peek()
        if quote not in ("'", '"'):
            self.fail("expected a quoted string")
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            self.fail("unterminated string")
        s = self.text[self.pos + 1:end]
        self.pos = end + 1
        return s

    def parse_dimension(self):
        if not "0" <= self.peek() <= "9":
            self.fail("expected a non-negative integer")
        d = 0
        while "0" <= self.peek() <= "9":
            if d > (INT64_MAX - 9) // 10:
                self.fail("dimension too large")
            d = d * 10 + ord(self.text[self.pos]) - ord("0")
            self.pos += 1
        return d

    def parse_value(self):
        self.skip_spaces()
        if self.peek() in ("'", '"'):
            return self.parse_string()
        if self.text.startswith("True", self.pos) or self.text.startswith("False", self.pos):
            value = self.text[self.pos] == "T"
            self.pos += 4 if value else 5
            return value
        if self.peek() == "(":
            self.pos += 1
            dims = []
            while True:
                self.skip_spaces()
                if self.peek() == ")":
                    break
                dims.append(self.parse_dimension())
                self.skip_spaces()
                if self.peek() == ",":
                    self.pos += 1
                elif self.peek() != ")":
                    self.fail("expected ',' or ')' in the shape")
            self.pos += 1
            return tuple(dims)
        self.fail("expected a string, True, False or a tuple")

    def parse_dict(self):
        d = {}
        self.expect("{")
        while True:
            self.skip_spaces()
            if self.peek() == "}":
                break
            key = self.parse_string()
            self.expect(":")
            if key in d:
                self.fail(f"key {key!r} appears twice")
            d[key] = self.parse_value()
            self.skip_spaces()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() != "}":
                self.fail("expected ',' or '}'")
        self.pos += 1
        self.skip_spaces()
        if self.pos != len(self.text):
            self.fail("text after the header dict")
        return d


def decode_npy(data, what, dtypes=NPY_SIGNED):
    """(descr, shape, int64 array of that shape) from the bytes of a .npy file, with the rules of decode_npy."""
    if len(data) < len(kMagic) + 4 or data[:len(kMagic)] != kMagic:
        raise Refusal(what, "not a .npy file (no \\x93NUMPY magic)")
    major, minor = data[6], data[7]
    if (major, minor) == (1, 0):
        header_len, header_start = int.from_bytes(data[8:10], "little"), 10
    elif (major, minor) == (2, 0):
        if len(data) < 12:
            raise Refusal(what, "truncated .npy header")
        header_len, header_start = int.from_bytes(data[8:12], "little"), 12
    else:
        raise Refusal(what, f".npy format version {major}.{minor} (expected 1.0 or 2.0)")
    if len(data) < header_start + header_len:
        raise Refusal(what, f"truncated .npy header ({len(data)} bytes)")
    header = data[header_start:header_start + header_len].decode("latin-1")  # one character per byte
    fields = NpyHeaderParser(header, what).parse_dict()
    for key in sorted(fields):
        if key not in ("descr", "fortran_order", "shape"):
            raise Refusal(what, f"unexpected key {key!r} in the .npy header")

    def get(key, kind):
        if key not in fields:
            raise Refusal(what, f"the .npy header has no {key!r}")
        if type(fields[key]) is not kind:
            raise Refusal(what, f"the .npy header's {key!r} has the wrong type")
        return fields[key]

    descr = get("descr", str)
    if descr not in dtypes:
        kinds = "', '".join(dtypes)
        raise Refusal(what, f"dtype {descr!r} is not a little-endian {'signed ' if dtypes is NPY_SIGNED else ''}"
                            f"integer ('{kinds}')")
    if get("fortran_order", bool):
        raise Refusal(what, "fortran_order True is not supported (write C order)")
    shape = get("shape", tuple)
    itemsize = dtypes[descr]
    available = len(data) - header_start - header_len
    # The product of the dimensions is bounded by the elements the data holds before it is formed.
    capacity = available // itemsize
    empty = 0 in shape
    numel = 0 if empty else 1
    for d in ([] if empty else shape):
        if numel > capacity // d:
            raise Refusal(what, f"shape {shape} needs more data than the file holds ({available} bytes)")
        numel *= d
    if numel * itemsize != available:
        raise Refusal(what, f"{available} bytes of data, the shape {shape} of {descr} needs {numel * itemsize}"
                            + (" (truncated?)" if numel * itemsize > available else ""))
    array = np.frombuffer(data, dtype=np.dtype(descr), count=numel, offset=header_start + header_len)
    if descr == "<u8" and numel and int(array.max()) > INT64_MAX:
        raise Refusal(what, "a value is beyond int64")
    return descr, shape, array.astype(np.int64).reshape(shape)


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        raise Refusal(path, f"cannot open ({getattr(e, 'strerror', None) or e})")


# ---------------------------------------------------------------------------------------------------
# model.json (src/ir/network_files.cpp, ManifestReader)


def manifest_depth(data):
    """The deepest nesting of '[' and '{' outside strings (a close below level 0 stays at 0), counted up
    to kMaxManifestDepth + 1: manifest_depth in src/ir/network_files.cpp."""
    depth = deepest = 0
    in_string = escaped = False
    for b in data:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # "
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > kMaxManifestDepth:
                break
        elif b in (0x5D, 0x7D) and depth > 0:  # ] }
            depth -= 1
    return deepest


class DuplicateKey(ValueError):
    pass


def parse_json(data):
    """RFC 8259 JSON as nlohmann::json reads it: UTF-8 (one leading BOM skipped), no NaN or Infinity,
    no number beyond double, no lone surrogate escapes; and, as fxnn adds, no key twice in an object."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if text.startswith("\ufeff"):
        text = text[1:]

    def constant(name):
        raise ValueError(f"{name} is not JSON")

    def number(text):
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"number overflow parsing {text!r}")
        return value

    def pairs(items):
        obj = {}
        for key, value in items:
            if key in obj:
                raise DuplicateKey(key)
            obj[key] = value
        return obj

    root = json.loads(text, parse_constant=constant, parse_float=number, object_pairs_hook=pairs)
    stack = [root]
    while stack:
        v = stack.pop()
        items = list(v.items()) if isinstance(v, dict) else [(None, e) for e in v] if isinstance(v, list) else []
        for key, e in items:
            for s in (key, e):
                if isinstance(s, str):
                    s.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
            stack.append(e)
    return root


def is_integer(v):
    return type(v) is int and INT64_MIN <= v <= INT64_MAX


def is_safe_name(name):
    """Node and input names become file names and C identifiers (is_safe_name)."""
    return (0 < len(name) <= kMaxNameLength and name[0] != "."
            and all("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "_.-" for c in name))


def json_text(v):
    return json.dumps(v, ensure_ascii=False)


class Requantize:
    pass


class Node:
    def __init__(self):
        self.weight = self.weight_format = self.requantize = None
        self.kernel, self.stride, self.padding, self.accumulator_bits = 1, 1, 0, 32


class ManifestReader:
    def __init__(self, folder):
        self.dir = folder
        self.file = os.path.join(folder, kManifestFile)

    def fail(self, key, why):
        raise Refusal(self.file, f"{key}: {why}")

    def keys(self, obj, where, required, optional):
        for k in required:
            if k not in obj:
                self.fail(where, f'missing key "{k}"')
        for k in sorted(obj):
            if k not in required and k not in optional:
                self.fail(where, f'unknown key "{k}"')

    def member(self, obj, key, where):
        if not isinstance(obj, dict) or key not in obj:
            self.fail(where, "missing")
        return obj[key]

    def object(self, obj, key, where):
        v = self.member(obj, key, where)
        if not isinstance(v, dict):
            self.fail(where, "expected an object")
        return v

    def integer(self, obj, key, where):
        v = self.member(obj, key, where)
        if type(v) is not int:
            self.fail(where, f"expected an integer, got {json_text(v)}")
        if not is_integer(v):
            self.fail(where, "out of range")
        return v

    def small_integer(self, obj, key, where):
        v = self.integer(obj, key, where)
        if not -kSmallIntegerLimit <= v <= kSmallIntegerLimit:
            self.fail(where, f"out of range: {v}")
        return v

    def string(self, obj, key, where):
        v = self.member(obj, key, where)
        if not isinstance(v, str):
            self.fail(where, f"expected a string, got {json_text(v)}")
        return v

    def integers(self, obj, key, where):
        v = self.member(obj, key, where)
        if not isinstance(v, list) or not all(is_integer(e) for e in v):
            self.fail(where, f"expected an array of integers, got {json_text(v)}")
        return list(v)

    def format(self, obj, key, where):
        text = self.string(obj, key, where)
        try:
            return parse_format(text)
        except ValueError as e:
            self.fail(where, str(e))

    def tensor_file(self, obj, where):
        """The .npy file named by obj["file"], a plain name inside the folder: (shape, int64 array)."""
        name = self.string(obj, "file", where + ".file")
        if not name or name[0] == "." or any(c in name for c in "/\\\0"):
            self.fail(where + ".file", f"{json_text(name)} must be a file name inside the folder")
        path = os.path.join(self.dir, name)
        try:
            _, shape, array = decode_npy(read_bytes(path), path)
        except Refusal as e:
            raise Refusal(e.file, f"{e.what} ({self.file}: {where}.file)")
        return list(shape), array, path

    def read_weight(self, node, where):
        w = self.object(node, "weight", where)
        self.keys(w, where, ("file", "format", "shape"), ())
        fmt = self.format(w, "format", where + ".format")
        shape = self.integers(w, "shape", where + ".shape")
        file_shape, array, path = self.tensor_file(w, where)
        if file_shape != shape:
            raise Refusal(path, f"shape {file_shape} disagrees with {self.file}: {where}.shape {shape}")
        flat = array.reshape(-1)
        bad = np.flatnonzero((flat < fmt.code_min()) | (flat > fmt.code_max()))
        if bad.size:
            i = int(bad[0])
            raise Refusal(path, f"value {int(flat[i])} at index {i} is outside the format {fmt} "
                                f"({self.file}: {where}.format)")
        return array, fmt

    def read_channel_values(self, rq, key, where, channels):
        """multiplier and offset: 1-D with one entry per channel, or one entry."""
        obj = self.object(rq, key, where)
        self.keys(obj, where, ("file",), ())
        shape, array, path = self.tensor_file(obj, where)
        if len(shape) != 1 or shape[0] not in (1, channels):
            raise Refusal(path, f"shape {shape}; {self.file}: {where} needs [{channels}] (the channels) or [1]")
        return [int(v) for v in array]

    def read_requantize(self, node, where, channels):
        rq = self.object(node, "requantize", where)
        self.keys(rq, where, ("multiplier", "multiplier_frac", "offset", "shift", "rounding", "clamp"), ())
        r = Requantize()
        r.multiplier = self.read_channel_values(rq, "multiplier", where + ".multiplier", channels)
        r.multiplier_frac = self.small_integer(rq, "multiplier_frac", where + ".multiplier_frac")
        r.offset = self.read_channel_values(rq, "offset", where + ".offset", channels)
        r.shift = self.small_integer(rq, "shift", where + ".shift")
        r.rounding = self.string(rq, "rounding", where + ".rounding")
        if r.rounding not in ROUNDINGS:
            self.fail(where + ".rounding", f"unknown rounding '{r.rounding}' (expected nearest, stochastic or floor)")
        clamp = self.integers(rq, "clamp", where + ".clamp")
        if len(clamp) != 2:
            self.fail(where + ".clamp", "expected [min, max]")
        r.clamp_min, r.clamp_max = clamp
        return r

    def read_node(self, j, at):
        if not isinstance(j, dict):
            self.fail(at, "expected an object")
        node = Node()
        node.name = self.string(j, "name", at + ".name")
        where = f"{at} ({node.name})"
        node.op = self.string(j, "op", where + ".op")
        if node.op not in OPS:
            self.fail(where + ".op", f"unknown op '{node.op}' (expected {', '.join(OPS[:-1])} or {OPS[-1]})")
        self.keys(j, where, *NODE_KEYS[node.op])
        inputs = self.member(j, "inputs", where + ".inputs")
        if not isinstance(inputs, list) or not all(isinstance(e, str) for e in inputs):
            self.fail(where + ".inputs", "expected an array of names")
        node.inputs = list(inputs)
        node.output_format = self.format(j, "output_format", where + ".output_format")
        node.output_shape = self.integers(j, "output_shape", where + ".output_shape")
        for key in ("kernel", "stride", "padding"):
            if key in j:
                setattr(node, key, self.integer(j, key, f"{where}.{key}"))
        if "accumulator_bits" in j:
            node.accumulator_bits = self.small_integer(j, "accumulator_bits", where + ".accumulator_bits")
        if "weight" in j:
            node.weight, node.weight_format = self.read_weight(j, where + ".weight")
        if "requantize" in j:
            if not node.output_shape:
                self.fail(where + ".output_shape", "must not be empty")
            node.requantize = self.read_requantize(j, where + ".requantize", node.output_shape[0])
        return node

    def read(self):
        data = read_bytes(self.file)
        if manifest_depth(data) > kMaxManifestDepth:
            raise Refusal(self.file, f"nested deeper than {kMaxManifestDepth} levels (a manifest has 5)")
        try:
            root = parse_json(data)
        except DuplicateKey as e:
            raise Refusal(self.file, f'the key {json_text(e.args[0])} appears twice in an object')
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeError, the hooks above
            raise Refusal(self.file, f"not valid JSON ({e})")
        if not isinstance(root, dict):
            self.fail("(top level)", "expected a JSON object")
        self.keys(root, "(top level)", ("format", "version", "name", "input", "nodes", "output"), ("source",))
        fmt = self.string(root, "format", "format")
        if fmt != kManifestFormat:
            self.fail("format", f'expected "{kManifestFormat}", got "{fmt}"')
        version = self.integer(root, "version", "version")
        if version != kFormatVersion:
            self.fail("version", f"{version} is not a version this fxnn reads ({kFormatVersion})")
        net = Network()
        net.name = self.string(root, "name", "name")
        if "source" in root:
            self.string(root, "source", "source")
        inp = self.object(root, "input", "input")
        self.keys(inp, "input", ("name", "shape", "format"), ())
        net.input_name = self.string(inp, "name", "input.name")
        net.input_shape = self.integers(inp, "shape", "input.shape")
        net.input_format = self.format(inp, "format", "input.format")
        nodes = self.member(root, "nodes", "nodes")
        if not isinstance(nodes, list):
            self.fail("nodes", "expected an array")
        net.nodes = [self.read_node(j, f"nodes[{i}]") for i, j in enumerate(nodes)]
        net.output = self.string(root, "output", "output")
        try:
            net.validate()
        except ValueError as e:
            raise Refusal(self.file, f"invalid network: {e}")
        return net


# ---------------------------------------------------------------------------------------------------
# Validation (src/ir/fixed_point_network.cpp, Network::validate; src/ir/worst_case.cpp)

NEEDS_REQUANTIZE = ("rescale", "conv2d", "dense", "avgpool", "add")
HAS_WINDOW = ("conv2d", "maxpool", "avgpool")


def within_element_limit(shape):
    """The product of the (positive) dimensions is at most kMaxTensorElements, checked before each product."""
    n = 1
    for d in shape:
        if d <= 0 or n > kMaxTensorElements // d:
            return False
        n *= d
    return True


def product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def abs_row_sums(w):
    """sum_i |w[c, i]| per output channel c, exactly (Python ints): |w| <= 2^61 is split into 32-bit halves
    whose int64 sums cannot overflow for up to 2^31 elements."""
    a = np.abs(w.reshape(w.shape[0], -1))
    high, low = (a >> 32).sum(axis=1), (a & 0xFFFFFFFF).sum(axis=1)
    return [(int(h) << 32) + int(lo) for h, lo in zip(high, low)]


class Network:
    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def format_of(self, tensor):
        return self.input_format if tensor == self.input_name else self.node(tensor).output_format

    def shape_of(self, tensor):
        return self.input_shape if tensor == self.input_name else self.node(tensor).output_shape

    def worst_case(self, node):
        """Upper bounds of |acc|, one per output channel or one for the node (worst_case_accumulator)."""
        in_max = self.format_of(node.inputs[0]).max_abs_code()
        if node.op in ("conv2d", "dense"):
            return [s * in_max for s in abs_row_sums(node.weight)]
        if node.op == "rescale":
            return [in_max]
        if node.op == "avgpool":
            return [node.kernel * node.kernel * in_max]
        fa, fb = self.format_of(node.inputs[0]), self.format_of(node.inputs[1])
        frac = max(fa.frac, fb.frac)
        return [(in_max << (frac - fa.frac)) + (fb.max_abs_code() << (frac - fb.frac))]

    def validate(self):
        """Network::validate: raises ValueError naming the node."""
        def fail(node, problem):
            raise ValueError(f"node '{node.name}' ({node.op}): {problem}")

        if not is_safe_name(self.input_name):
            raise ValueError(f"network input name '{self.input_name}': use letters, digits, '_', '.', '-'")
        if not self.input_shape or any(d <= 0 for d in self.input_shape):
            raise ValueError(f"network input shape {self.input_shape} must be non-empty and positive")
        if not within_element_limit(self.input_shape):
            raise ValueError(f"network input shape {self.input_shape} has more elements than {kMaxTensorElements}")
        defined = {self.input_name}
        for node in self.nodes:
            if not is_safe_name(node.name):
                fail(node, "bad name: use letters, digits, '_', '.', '-' (not first), it becomes a file name")
            if node.name in defined:
                fail(node, "the name is used twice")
            arity = 2 if node.op == "add" else 1
            if len(node.inputs) != arity:
                fail(node, f"has {len(node.inputs)} inputs; expected {arity}")
            for name in node.inputs:
                if name not in defined:
                    fail(node, f"input '{name}' is not the network input or an earlier node")
            if not node.output_shape or any(d <= 0 for d in node.output_shape):
                fail(node, f"output_shape {node.output_shape} must be non-empty and positive")
            if not within_element_limit(node.output_shape):
                fail(node, f"output_shape {node.output_shape} has more elements than {kMaxTensorElements}")
            weighted = node.op in ("conv2d", "dense")
            if weighted != (node.weight is not None):
                fail(node, "needs a weight" if weighted else "must not have a weight")
            needs = node.op in NEEDS_REQUANTIZE
            if needs != (node.requantize is not None):
                fail(node, "needs a requantize" if needs else "must not have a requantize")
            if needs and node.accumulator_bits not in (32, 64):
                fail(node, f"accumulator_bits must be 32 or 64, got {node.accumulator_bits}")
            if node.op in HAS_WINDOW:
                if node.kernel < 1 or node.stride < 1 or node.padding < 0:
                    fail(node, f"kernel {node.kernel}, stride {node.stride}, padding {node.padding}: "
                               "need kernel >= 1, stride >= 1, padding >= 0")
                if node.padding > kMaxTensorElements:
                    fail(node, f"padding {node.padding} is larger than {kMaxTensorElements}")
                if node.op != "conv2d" and node.padding != 0:
                    fail(node, f"padding {node.padding}: pooling windows have no padding")

            def window_output(size):
                if size + 2 * node.padding < node.kernel:
                    fail(node, f"kernel {node.kernel} larger than the padded input {size + 2 * node.padding}")
                return (size + 2 * node.padding - node.kernel) // node.stride + 1

            in_format, in_shape = self.format_of(node.inputs[0]), self.shape_of(node.inputs[0])
            if node.op == "rescale":
                expected = list(in_shape)
            elif node.op == "flatten":
                expected = [product(in_shape)]
            elif node.op == "dense":
                if len(in_shape) != 1:
                    fail(node, f"input shape {in_shape} must be 1-D (flatten first)")
                ws = list(node.weight.shape)
                expected = [ws[0] if len(ws) == 2 else -1]
                if ws != [expected[0], in_shape[0]]:
                    fail(node, f"weight shape {ws} does not match [out, {in_shape[0]}] for the input {in_shape}")
            elif node.op in HAS_WINDOW:
                if len(in_shape) != 3:
                    fail(node, f"input shape {in_shape} must be [C, H, W]")
                channels = in_shape[0]
                if node.op == "conv2d":
                    ws = list(node.weight.shape)
                    if len(ws) != 4 or ws[1] != in_shape[0] or ws[2] != node.kernel or ws[3] != node.kernel:
                        fail(node, f"weight shape {ws} does not match [out, {in_shape[0]}, {node.kernel}, "
                                   f"{node.kernel}] (input channels, kernel)")
                    channels = ws[0]
                expected = [channels, window_output(in_shape[1]), window_output(in_shape[2])]
            else:  # add
                b_shape = self.shape_of(node.inputs[1])
                if b_shape != in_shape:
                    fail(node, f"inputs have different shapes {in_shape} and {b_shape}")
                expected = list(in_shape)
            if node.output_shape != expected:
                fail(node, f"output_shape {node.output_shape}, but the input gives {expected}")
            if node.op in ("maxpool", "flatten") and node.output_format != in_format:
                fail(node, f"output_format {node.output_format} must equal the input format {in_format} "
                           "(codes are unchanged)")
            if weighted:
                if not within_element_limit(node.weight.shape):
                    fail(node, f"weight shape {list(node.weight.shape)} has more elements than {kMaxTensorElements}")
                # The values were checked against the weight format as the file was read.
            if node.requantize is not None:
                worst = self.worst_case(node)
                limit = (1 << (node.accumulator_bits - 1)) - 1
                if max(worst) > limit:
                    fail(node, f"accumulator_bits {node.accumulator_bits} too small: the worst case |acc| is "
                               f"{max(worst)}" + (" (use 64)" if node.accumulator_bits == 32 else ""))
                self.check_requantize(node, worst, node.output_shape[0], fail)
            defined.add(node.name)
        if not any(n.name == self.output for n in self.nodes):
            raise ValueError(f"network '{self.name}': output '{self.output}' is not a node")

    @staticmethod
    def check_requantize(node, worst, channels, fail):
        r = node.requantize
        for key in ("multiplier", "offset"):
            n = len(getattr(r, key))
            if n not in (1, channels):
                fail(node, f"requantize.{key} has {n} entries; expected 1 or {channels} (the channels)")
        if r.rounding not in ("nearest", "floor"):
            fail(node, f"requantize.rounding must be nearest or floor, got {r.rounding}")
        if not -kMaxShift <= r.shift <= kMaxShift:
            fail(node, f"requantize.shift {r.shift} outside [-{kMaxShift}, {kMaxShift}]")
        out = node.output_format
        if r.clamp_min > r.clamp_max:
            fail(node, f"requantize.clamp [{r.clamp_min}, {r.clamp_max}] is empty")
        if r.clamp_min < out.code_min() or r.clamp_max > out.code_max():
            fail(node, f"requantize.clamp [{r.clamp_min}, {r.clamp_max}] exceeds the codes "
                       f"[{out.code_min()}, {out.code_max()}] of the output format {out}")
        # eq. (3) in int64: acc * multiplier + offset, the rounding constant and a left shift must not overflow
        # (requantize_overflow).
        def pick(v, c):
            return v[0] if len(v) == 1 else v[c]

        for c in range(channels):
            v_max = pick(worst, c) * abs(pick(r.multiplier, c)) + abs(pick(r.offset, c))
            if r.shift > 0:
                over = v_max + ((1 << (r.shift - 1)) if r.rounding == "nearest" else 0) > INT64_MAX
            elif r.shift < 0:
                over = v_max > INT64_MAX >> -r.shift
            else:
                over = v_max > INT64_MAX
            if over:
                fail(node, f"|acc * multiplier + offset| can reach {v_max}, beyond int64 (channel {c})")

    # -----------------------------------------------------------------------------------------------
    # Evaluation: eq. (1)-(3) of docs/fixed-point-network.md in int64 (validation keeps it exact).

    @staticmethod
    def requantize(acc, node):
        """eq. (3): v = acc * multiplier[c] + offset[c]; out = clamp(round_shift(v, shift))."""
        r = node.requantize
        m, o = np.array(r.multiplier, np.int64), np.array(r.offset, np.int64)
        view = (1, -1) + (1,) * (acc.ndim - 2)
        v = acc * (m.reshape(view) if m.size > 1 else m[0]) + (o.reshape(view) if o.size > 1 else o[0])
        s = r.shift
        if s > 0:
            if r.rounding == "nearest":
                v = v + (np.int64(1) << np.int64(s - 1))  # ties toward +infinity
            v = v >> np.int64(s)  # arithmetic shift: floor division by 2^s
        elif s < 0:
            v = v << np.int64(-s)
        return np.clip(v, r.clamp_min, r.clamp_max)

    @staticmethod
    def windows(x, node, padding):
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        k, s = node.kernel, node.stride
        return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]

    def evaluate(self, x):
        values = {self.input_name: x.astype(np.int64)}
        for node in self.nodes:
            a = values[node.inputs[0]]
            if node.op == "rescale":
                out = self.requantize(a, node)
            elif node.op == "conv2d":  # eq. (1): zero padding, stride, OIHW weights
                windows = self.windows(a, node, node.padding)  # [N, C, OH, OW, k, k]
                acc = np.tensordot(windows, node.weight, axes=([1, 4, 5], [1, 2, 3]))  # [N, OH, OW, O]
                out = self.requantize(acc.transpose(0, 3, 1, 2), node)
            elif node.op == "dense":
                out = self.requantize(a @ node.weight.T, node)  # eq. (2)
            elif node.op == "maxpool":
                out = self.windows(a, node, 0).max(axis=(4, 5))
            elif node.op == "avgpool":
                out = self.requantize(self.windows(a, node, 0).sum(axis=(4, 5)), node)
            elif node.op == "add":
                b = values[node.inputs[1]]
                fa, fb = self.format_of(node.inputs[0]).frac, self.format_of(node.inputs[1]).frac
                f = max(fa, fb)
                out = self.requantize((a << np.int64(f - fa)) + (b << np.int64(f - fb)), node)
            else:  # flatten
                out = a.reshape(a.shape[0], -1)
            values[node.name] = out
        return values[self.output]


def load_user_array(path):
    """--input / --labels: a .npy of integers, checked as the folder's files are."""
    _, _, array = decode_npy(read_bytes(path), path, NPY_INTEGER)
    return array


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="exported network folder (model.json)")
    parser.add_argument("--input", required=True, help="input codes, .npy [N, ...input shape]")
    parser.add_argument("--labels", help="labels, .npy [N]: print the accuracy")
    parser.add_argument("--output", help="write the output codes here (.npy, int64)")
    parser.add_argument("--predictions", help="write the predictions here (.npy, int64)")
    parser.add_argument("--batch", type=int, default=500, help="samples per evaluation step")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")

    net = ManifestReader(args.model).read()
    x = load_user_array(args.input)
    expected = list(net.input_shape)
    if x.ndim < 1 or list(x.shape[1:]) != expected or x.shape[0] < 1:
        raise Refusal(args.input, f"shape {list(x.shape)} does not match the network input [N >= 1, {expected}]")
    lo, hi = net.input_format.code_min(), net.input_format.code_max()
    if x.min() < lo or x.max() > hi:
        raise Refusal(args.input, f"codes outside the input format {net.input_format} [{lo}, {hi}]")
    outputs = np.concatenate([net.evaluate(x[i:i + args.batch]) for i in range(0, len(x), args.batch)])
    predictions = outputs.argmax(axis=1)
    for path, array in ((args.output, outputs), (args.predictions, predictions)):
        if path:
            try:
                np.save(path, array)
            except OSError as e:
                raise Refusal(path, f"cannot write ({e.strerror or e})")
    line = f"samples {len(x)}"
    if args.labels:
        labels = load_user_array(args.labels)
        if list(labels.shape) != [len(x)]:
            raise Refusal(args.labels, f"shape {list(labels.shape)}; expected [{len(x)}] (one label per sample)")
        line += f", accuracy {np.mean(predictions == labels):.4f}"
    print(line)


if __name__ == "__main__":
    try:
        main()
    except Refusal as e:
        fail(f"{e.file}: {e.what}")
    except Exception as e:  # noqa: BLE001 - the last resort: one line, never a traceback
        fail(f"internal error ({type(e).__name__}: {e})")
