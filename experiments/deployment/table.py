"""Prints the tables of experiments/deployment/README.md from runs/deployment/."""
import json
import os
import sys

root = sys.argv[1]
names = [n for n in ["fashion_mnist_cnn_assigned", "fashion_mnist_cnn_uniform8", "cifar10_convnet"]
         if os.path.exists(f"{root}/{n}.infer.json")]
print("| network | test samples | runtime accuracy | mismatches vs simulation (predictions / codes) "
      "| trained model accuracy | same prediction as trained model |")
print("|---|---|---|---|---|---|")
for n in names:
    j = json.load(open(f"{root}/{n}.infer.json"))
    print(f"| {n} | {j['samples']} | {100 * j['accuracy']:.2f}% | {j['prediction_mismatches']} / {j['code_mismatches']} "
          f"| {100 * j['source_accuracy']:.2f}% | {100 * j['source_agreement']:.2f}% |")
print()
print("| network | threads | LibTorch float (img/s) | LibTorch int8 (img/s) | fxnn (img/s) | fxnn / float | fxnn / int8 |")
print("|---|---|---|---|---|---|---|")
for n in names:
    for suffix in ["bench", "bench1"]:
        path = f"{root}/{n}.{suffix}.json"
        if not os.path.exists(path):
            continue
        j = json.load(open(path))
        print(f"| {n} | {j['threads']} | {j['float_images_per_s']:.0f} ({j['float_layout']}) | {j['int8_images_per_s']:.0f} "
              f"| {j['fxnn_images_per_s']:.0f} | {j['fxnn_over_float']:.2f} | {j['fxnn_over_int8']:.2f} |")
for n in names:
    path = f"{root}/{n}.bench.json"
    if not os.path.exists(path):
        continue
    j = json.load(open(path))
    print(f"\n{n}, batch {j['batch']}, {j['threads']} threads: fxnn per node")
    print("| node | kernel | ms per batch | share |")
    print("|---|---|---|---|")
    for p in j["fxnn_profile"]:
        print(f"| {p['node']} | {p['kernel']} | {p['ms']:.3f} | {100 * p['share']:.1f}% |")
