"""Writes experiments/lowbit/README.md (to stdout) from what experiments/lowbit/run.sh left in runs/lowbit:
the JSON of every `fxnn lowbit` conversion (<net>/<tag>.json, its command in <net>/<tag>.cmd), the
`fxnn bench infer` results (<net>/bench_<tag>_<isa>.json) and the `fxnn bench narrow` results
(bench_narrow_b<B>.json)."""
import array
import ast
import json
import struct
import sys
from pathlib import Path

import make_finetune_table  # the section "Fine-tuned on the grids" (same folder)

NETWORKS = [("mlp", "Fashion-MNIST MLP 784-512-512-10", "runs/lowbit/fl_mlp"),
            ("cnn", "Fashion-MNIST CNN", "runs/fashion_mnist_cnn/fl"),
            ("convnet", "CIFAR-10 ConvNet (width 0.25)", "runs/cifar10_convnet/fl")]
BITS = [2, 3, 4, 5, 6, 8]
MODES = ["float-scale", "shift-clip"]
ABLATIONS = [("", "default: mse steps per layer, rounding shifts, 8-bit input, bias correction"),
             ("_maxabs", "--steps maxabs"), ("_channel", "--granularity channel"), ("_floor", "--rounding floor"),
             ("_input", "--input-bits B (quantized input)"), ("_nocorrection", "--correction none"),
             ("_edge8", "--edge-bits 8 (first and last layer's weights at 8 bits)")]
LOWBIT = ("fxnn lowbit --checkpoint RUN/checkpoint.pt --config RUN/config.yaml --mode MODE --bits B [OPTION] "
          "--out runs/lowbit/NET/TAG --json runs/lowbit/NET/TAG.json")


def load(path: Path):
    # An empty file is a command that was still running (or was stopped) when this ran.
    text = path.read_text() if path.exists() else ""
    return json.loads(text) if text.strip() else None


def npy_codes(path: Path) -> array.array:
    """The integers of a little-endian .npy file of the artifact (int8 .. int64, C order)."""
    data = path.read_bytes()
    major = data[6]
    size, start = (struct.unpack("<H", data[8:10])[0], 10) if major == 1 else (struct.unpack("<I", data[8:12])[0], 12)
    header = ast.literal_eval(data[start:start + size].decode("latin1"))
    codes = array.array({"|i1": "b", "<i1": "b", "<i2": "h", "<i4": "i", "<i8": "q"}[header["descr"]])
    codes.frombytes(data[start + size:])
    return codes


def nonzero_weights(model: Path) -> list:
    """(layer, fraction of weight codes that are not 0) per weighted layer of an artifact folder."""
    nodes = json.loads((model / "model.json").read_text())["nodes"]
    rows = []
    for node in nodes:
        if "weight" in node:
            codes = npy_codes(model / node["weight"]["file"])
            rows.append((node["name"], sum(1 for c in codes if c) / len(codes)))
    return rows


def float_run_state(run: Path) -> str:
    """What the float run of a network that was not converted looks like now."""
    if not (run / "config.yaml").exists():
        return f"there is no float run at `{run}`"
    wanted = None
    section = False
    for line in (run / "config.yaml").read_text().splitlines():
        if not line.startswith(" "):
            section = line.startswith("train:")
        elif section and line.split(":")[0].strip() == "epochs":
            wanted = int(line.split(":")[1].split("#")[0])
    metrics = run / "metrics.jsonl"
    done = sum(1 for l in metrics.read_text().splitlines() if l.strip()) if metrics.exists() else 0
    state = f"its float run `{run}` has {done} of {wanted} epochs"
    if not (run / "checkpoint.pt").exists():
        state += " and no checkpoint"
    return state + " as this README is written (run.sh converts only finished runs)"


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def summary(w, root: Path, present) -> None:
    """Reading of the tables, computed from the same JSONs: the fewest bits within 1 point of float per
    network and mode, and what keeping the first and last layer at 8 bits buys at the lowest widths."""
    w("### Summary")
    w("")
    for net, desc, run in present:
        cells = []
        for mode in MODES:
            ok = [b for b in BITS if (d := load(root / net / f"{mode}_b{b}.json"))
                  and d["float_accuracy"] - d["accuracy"] <= 0.01]
            cells.append(f"{mode} B = {min(ok)}" if ok else f"{mode}: no B")
        edge = []
        for mode, b in (("float-scale", 2), ("shift-clip", 3)):
            base, e8 = load(root / net / f"{mode}_b{b}.json"), load(root / net / f"{mode}_b{b}_edge8.json")
            if base and e8:
                edge.append(f"{mode} B = {b} {pct(base['accuracy'])} -> {pct(e8['accuracy'])}")
        line = f"- {desc}: the fewest bits B in {BITS} whose accuracy is within 1 point of float: " + ", ".join(cells) + "."
        if edge:
            line += " First and last layer's weights at 8 bits (`--edge-bits 8`): " + ", ".join(edge) + "."
        w(line)
    w("")


def main(root: Path) -> None:
    out = []
    w = out.append
    w("# Low-bit inference of float-trained networks")
    w("")
    w("Produced by `experiments/lowbit/run.sh` (which calls `experiments/lowbit/make_readme.py`); the method is")
    w("docs/lowbit.md. Each number below comes from the JSON a command wrote under runs/lowbit/ (its exact")
    w("command line is in the `.cmd` file beside it). Every conversion is")
    w("")
    w(f"    {LOWBIT}")
    w("")
    w("with NET/TAG = `<net>/<mode>_b<B><ablation>`; `fxnn lowbit` evaluates the artifact it wrote with the integer")
    w("runtime on the whole test set, checks it against its LibTorch simulation (the converter's own simulation")
    w("of the artifact) and evaluates the float LibTorch model on the same images. Hidden activations and")
    w("weights have B bits; the input is 8-bit unless the ablation says otherwise; steps: min-MSE per layer;")
    w("bias correction on the calibration images (1000 training images).")
    w("")
    w("BLAS kernels: the CIFAR-10 ConvNet's conversions from float-scale B = 4 on and the CNN's float-scale B = 2")
    w("`--correction none` and `--edge-bits 8` ran with OpenBLAS's AVX-512 kernels, which `fxnn` now selects itself")
    w("(docs/performance.md); all earlier ones (MLP, CNN, ConvNet B = 2, 3 and shift-clip B = 4) with OpenBLAS's")
    w("Prescott fallback. The kernels only change the float64 calibration's")
    w("summation order: the ConvNet's shift-clip B = 4 artifact converted both ways is identical file for file.")
    w("")
    present = [(n, d, r) for n, d, r in NETWORKS if (root / n).is_dir()]
    missing = [(n, d, r) for n, d, r in NETWORKS if not (root / n).is_dir()]
    for n, d, r in missing:
        w(f"- {d}: not converted; {float_run_state(Path(r))}.")
    if missing:
        w("")

    mismatches = []
    w("## Accuracy against B (test set, %)")
    w("")
    for net, desc, run in present:
        w(f"### {desc} (`{run}`)")
        w("")
        w("| B | float | float-scale | shift-clip | float-scale - float | shift-clip - float |")
        w("|---|---|---|---|---|---|")
        missing_bits = []
        for b in BITS:
            r = {m: load(root / net / f"{m}_b{b}.json") for m in MODES}
            if not any(r.values()):
                missing_bits.append(b)
                continue
            fl = next(d for d in r.values() if d)["float_accuracy"]
            acc = [pct(r[m]["accuracy"]) if r[m] else "" for m in MODES]
            gap = [f"{100 * (r[m]['accuracy'] - fl):+.2f}" if r[m] else "" for m in MODES]
            w(f"| {b} | {pct(fl)} | {acc[0]} | {acc[1]} | {gap[0]} | {gap[1]} |")
        w("")
        if missing_bits:
            w("Not converted (run.sh was stopped before it reached them; an empty cell above likewise): B = " +
              ", ".join(str(b) for b in missing_bits) + ".")
            w("")
        for j in sorted((root / net).glob("*.json")):
            if j.name.startswith("bench_"):
                continue
            d = load(j)
            mismatches.append((net, j.stem, d["samples"], d["prediction_mismatches"], d["code_mismatches"]))

    summary(w, root, present)

    mlp = {m: load(root / "mlp" / f"{m}_b{b}.json") for m, b in [("shift-clip", 3), ("float-scale", 2)]}
    if all(mlp.values()):
        w("## Acceptance on the MLP")
        w("")
        for (mode, b, limit) in [("shift-clip", 3, 2.0), ("float-scale", 2, 4.0)]:
            d = mlp[mode]
            gap = 100 * (d["float_accuracy"] - d["accuracy"])
            verdict = "met" if gap <= limit else f"missed by {gap - limit:.2f} points"
            w(f"- {mode} at {b} bits: {pct(d['accuracy'])}% against float {pct(d['float_accuracy'])}%, "
              f"{gap:.2f} points below (target: within {limit:g}): {verdict}.")
        w("")

    w("## Ablations (accuracy %, B = 2 and 3)")
    w("")
    w("Each row changes one option of the default conversion (the flag is the OPTION of the command above).")
    w("run.sh runs every ablation at B = 2 and 3 in both modes on the MLP; on the convolutional networks (minutes")
    w("per conversion on this machine) only at the MLP's acceptance points, shift-clip B = 3 and float-scale B = 2.")
    w("An empty cell was not run.")
    w("")
    for net, desc, run in present:
        w(f"### {desc}")
        w("")
        w("| conversion | float-scale B=2 | float-scale B=3 | shift-clip B=2 | shift-clip B=3 |")
        w("|---|---|---|---|---|")
        rows = 0
        for suffix, what in ABLATIONS:
            cells = []
            for mode in MODES:
                for b in (2, 3):
                    d = load(root / net / f"{mode}_b{b}{suffix}.json")
                    cells.append(pct(d["accuracy"]) if d else "")
            if any(cells):
                w(f"| {what} | " + " | ".join(cells) + " |")
                rows += 1
        w("")
        if rows <= 1:
            w("No ablation of this network was run (run.sh was stopped before it reached them).")
            w("")

    w("### Weight codes that are not 0 (B = 2)")
    w("")
    w("Read from the artifacts' weight files (runs/lowbit/NET/TAG/*.weight.npy): with ternary codes the step")
    w("decides how many weights survive; the max-abs step (the largest |w| at code 1) rounds almost all of them")
    w("to 0.")
    w("")
    w("| network | conversion | non-zero weight codes per layer |")
    w("|---|---|---|")
    for net, desc, run in present:
        for tag in ("float-scale_b2", "float-scale_b2_maxabs", "shift-clip_b2", "shift-clip_b2_maxabs"):
            model = root / net / tag
            if (model / "model.json").exists():
                cells = ", ".join(f"{name} {100 * f:.2f}%" for name, f in nonzero_weights(model))
                w(f"| {net} | {tag} | {cells} |")
    w("")

    w("## Accumulator widths")
    w("")
    w("Per weighted layer of the default conversions: the spec's bound n q_hi(w) q_hi(a) + max|b| (eq. (9) of")
    w("docs/lowbit.md) and the worst case sum |W| q_hi(a) that the runtime checks, each with the signed bits it")
    w("needs, the IR's accumulator_bits, and the runtime kernel that ran (on this machine, `--isa auto`). `u8s8 i16`")
    w("kernels accumulate in 16 bits.")
    w("")
    for net, desc, run in present:
        w(f"### {desc}")
        w("")
        w("| conversion | layer | n | q_hi(w) | q_hi(a) | max abs b | n qw qa + abs b (bits) | sum abs W qa (bits) | IR | kernel |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for b in (2, 3, 8):
            for mode in MODES:
                d = load(root / net / f"{mode}_b{b}.json")
                if not d:
                    continue
                for layer in d["layers"]:
                    w(f"| {mode} B={b} | {layer['name']} | {layer['fan_in']} | {layer['weight_code_max']} | "
                      f"{layer['input_code_max']} | {layer['bias_max']} | {layer['spec_bound']} ({layer['spec_bound_bits']}) | "
                      f"{layer['worst_case']} ({layer['worst_case_bits']}) | {layer['accumulator_bits']} | {layer['kernel']} |")
        w("")

    w("## Speed against LibTorch float (`fxnn bench infer`)")
    w("")
    w("    fxnn bench infer --model runs/lowbit/NET/TAG --config RUN/config.yaml --batch 256 --isa ISA")
    w("")
    w("One batch of 256 test images, the three peers alternated in one process with the same threads (the")
    w("`threads` column; the machine's 2 cores were shared with training jobs, so absolute rates vary between")
    w("rows and ratios measured in one process are the telling numbers). fxnn/float > 1 means the integer")
    w("runtime is faster than LibTorch float32.")
    w("")
    w("| network | artifact | --isa | threads | LibTorch float (img/s) | LibTorch int8 (img/s) | fxnn (img/s) | fxnn / float | fxnn / int8 | kernels of the weighted layers |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for net, desc, run in present:
        for tag in ("float-scale_b2", "shift-clip_b3", "shift-clip_b8"):
            for isa in ("auto", "portable"):
                d = load(root / net / f"bench_{tag}_{isa}.json")
                if not d:
                    continue
                kernels = sorted({p["kernel"] for p in d["fxnn_profile"] if p["kernel"].startswith(("dense", "conv2d"))})
                w(f"| {net} | {tag} | {isa} ({d['fxnn_isa']}) | {d['threads']} | {d['float_images_per_s']:.0f} | {d['int8_images_per_s']:.0f} | "
                  f"{d['fxnn_images_per_s']:.0f} | {d['fxnn_over_float']:.2f} | {d['fxnn_over_int8']:.2f} | {', '.join(kernels)} |")
    w("")
    narrow = [(b, load(root / f"bench_narrow_b{b}.json")) for b in (2, 3)]
    if any(d for _, d in narrow):
        w("### 16-bit against 32-bit accumulators (`fxnn bench narrow`)")
        w("")
        w("    fxnn bench narrow --bits B")
        w("")
        first = next(d for _, d in narrow if d)
        w("The runtime's u8s8 product of random B-bit codes, with 32-bit and with 16-bit sums, in the portable")
        w("packing (int16 loops against the portable 32-bit kernel) and the VNNI packing (AVX-512BW vpmaddubsw +")
        w(f"vpaddw against VNNI vpdpbusd), the four alternated on {first['threads']} thread, median of {first['steps']} calls")
        w("each; the ratio is the 32-bit kernel's time over the 16-bit one's (> 1: the 16-bit kernel is faster).")
        w("Shapes whose bound k q_hi(w) q_hi(a) exceeds 2^15 - 1 never run narrow and are not timed. The portable")
        w("engine runs the VNNI-packing 16-bit kernel (`u8s8 i16 avx512bw`) where the CPU has AVX-512BW; the")
        w("avx512vnni engine keeps `u8s8 avx512vnni`.")
        w("")
        w(f"| B | GEMM ({first['batch']} images) | k q_hi(w) q_hi(a) | kernel: GMAC/s | 16-bit / 32-bit, portable | 16-bit / 32-bit, VNNI packing | outputs equal |")
        w("|---|---|---|---|---|---|---|")
        for b, d in narrow:
            if not d:
                continue
            for r in d["results"]:
                if not r["narrow"]:
                    w(f"| {b} | {r['shape']} | {r['bound']} | (exceeds 16 bits) | | | |")
                    continue
                kernels = ", ".join(f"{k['kernel']}: {k['gmacs']:.1f}" for k in r["kernels"])
                vnni = r.get("narrow_over_wide_avx512vnni")
                w(f"| {b} | {r['shape']} | {r['bound']} | {kernels} | {r['narrow_over_wide_portable']:.2f} | "
                  f"{'' if vnni is None else f'{vnni:.2f}'} | {r['outputs_equal']} |")
        w("")

    w("## Runtime against the converter's simulation")
    w("")
    total = sum(m[3] + m[4] for m in mismatches)
    w(f"{len(mismatches)} conversions; prediction and output-code mismatches between the integer runtime and the")
    w(f"LibTorch simulation of the artifact, summed over all of them: {total}.")
    w("")
    w("| network | conversion | test samples | prediction mismatches | code mismatches |")
    w("|---|---|---|---|---|")
    for net, tag, samples, p, c in mismatches:
        w(f"| {net} | {tag} | {samples} | {p} | {c} |")
    w("")
    results = Path(__file__).parent / "results_finetune"
    if results.is_dir():
        out.extend(make_finetune_table.section(str(results)))
    print("\n".join(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
