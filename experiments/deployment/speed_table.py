"""Prints the tables of the "Runtime speed" section of experiments/deployment/README.md from the JSON
files of experiments/deployment/speed.sh (runs/deployment_speed/results/)."""
import glob
import json
import os
import sys

root = sys.argv[1]
NETWORKS = ["fashion_mnist_cnn_uniform8", "fashion_mnist_cnn_assigned", "cifar10_convnet_uniform8",
            "cifar10_convnet_assigned", "cifar10_convnet_wide16", "mlp_64_128_128_10"]


def load(name, batch, threads, isa):
    path = f"{root}/{name}.b{batch}.t{threads}.{isa}.json"
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return None


def weights(j):
    kinds = sorted({p["kernel"].split()[1] for p in j["fxnn_profile"] if p["kernel"].startswith(("conv2d", "dense"))})
    return "/".join(kinds)


print("Batch 256 (images per second; ratios of median batch times measured in one run):\n")
print("| network | kernels | threads | LibTorch float | LibTorch int8 | fxnn | fxnn / float | fxnn / int8 |")
print("|---|---|---|---|---|---|---|---|")
PEERS = {"avx2peers": " (LibTorch at AVX2)", "vnnipeers": " (LibTorch at VNNI)"}
for isa in ["auto", "avx512vnni", "avx512vnni-vnnipeers", "portable", "portable-avx2peers"]:
    for n in NETWORKS:
        for t in [1, 2]:
            j = load(n, 256, t, isa)
            if j:
                peers = PEERS.get(isa.rpartition("-")[2], "") if "-" in isa else ""
                print(f"| {n}{peers} | {weights(j)} {j['fxnn_isa']} | {t} | {j['float_images_per_s']:.0f} | "
                      f"{j['int8_images_per_s']:.0f} | {j['fxnn_images_per_s']:.0f} | {j['fxnn_over_float']:.2f} | "
                      f"{j['fxnn_over_int8']:.2f} |")

print("\nBatch 1 (latency per image in microseconds, median / 99th percentile of the calls):\n")
print("| network | kernels | threads | LibTorch float | LibTorch int8 | fxnn | int8 / fxnn (medians) | float / fxnn (medians) |")
print("|---|---|---|---|---|---|---|---|")
for isa in ["auto", "portable", "portable-avx2peers"]:
    for n in NETWORKS:
        for t in [1, 2]:
            j = load(n, 1, t, isa)
            if j:
                peers = " (LibTorch at AVX2)" if isa.endswith("avx2peers") else ""
                lat = j["latency"]
                cell = lambda s: f"{1e3 * lat[s]['median_ms']:.1f} / {1e3 * lat[s]['p99_ms']:.1f}"
                print(f"| {n}{peers} | {weights(j)} {j['fxnn_isa']} | {t} | {cell('float')} | {cell('int8')} | {cell('fxnn')} | "
                      f"{lat['int8']['median_ms'] / lat['fxnn']['median_ms']:.1f} | "
                      f"{lat['float']['median_ms'] / lat['fxnn']['median_ms']:.1f} |")

checks = sorted(glob.glob(f"{root}/*.check.*.json"))
if checks:
    print("\n`fxnn infer --check` (the runtime against the LibTorch simulation, whole test sets):\n")
    print("| network | kernels | test samples | accuracy | mismatches (predictions / codes) |")
    print("|---|---|---|---|---|")
    for path in checks:
        j = json.load(open(path))
        name, _, isa = os.path.basename(path)[:-5].rpartition(".check.")
        print(f"| {name} | {isa} | {j['samples']} | {100 * j['accuracy']:.2f}% | "
              f"{j['prediction_mismatches']} / {j['code_mismatches']} |")

for n in NETWORKS:
    for t in [1, 2]:
        j = load(n, 256, t, "auto")
        if not j or t != 1:
            continue
        print(f"\n{n}, batch {j['batch']}, {j['threads']} thread: fxnn per node")
        print("| node | kernel | ms per batch | share |")
        print("|---|---|---|---|")
        for p in j["fxnn_profile"]:
            print(f"| {p['node']} | {p['kernel']} | {p['ms']:.3f} | {100 * p['share']:.1f}% |")

trains = sorted(glob.glob(f"{root}/train.*.json"))
if trains:
    print("\n`fxnn bench train` (median step time, FL and FX steps alternated; FX with the assigned plan):\n")
    print("| network | threads | batch | FL ms/step | FX ms/step | FX / FL |")
    print("|---|---|---|---|---|---|")
    for path in trains:
        j = json.load(open(path))
        print(f"| {j['config']} | {j['threads']} | {j['batch']} | {j['fl_ms']:.1f} | {j['fx_ms']:.1f} | "
              f"{j['ratio']:.3f} |")
