"""The fixed-point format notation of docs/number-system.md ("s8.7", "u8.7", "s16.auto")."""
import math
import re
from dataclasses import dataclass

_FORMAT = re.compile(r"^([su])(\d+)\.(auto|-?\d+)$")


@dataclass(frozen=True)
class Format:
    bits: int
    frac: int  # ignored when auto_range
    signed: bool = True
    auto_range: bool = False

    @staticmethod
    def parse(text):
        m = _FORMAT.match(text)
        if not m:
            raise ValueError(f"bad fixed-point format '{text}' (expected e.g. s8.7, u8.7 or s16.auto)")
        kind, bits, frac = m.groups()
        auto = frac == "auto"
        return Format(int(bits), 0 if auto else int(frac), kind == "s", auto)

    def __str__(self):
        return f"{'s' if self.signed else 'u'}{self.bits}.{'auto' if self.auto_range else self.frac}"

    @property
    def step(self):
        return math.ldexp(1.0, -self.frac)

    @property
    def code_min(self):
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def code_max(self):
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1
