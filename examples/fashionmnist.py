"""FashionMNIST (70,000 images) at 1-5 labels per class, next to Calder et al. (ICML 2020).

Features come from a 784-400-20 VAE (trained once, ~20-40 min on a CPU, then
cached in the data root); the 10-NN graph is cached there too. Every method
sees the same seeded labeled sets.

    python examples/fashionmnist.py                   # 20 trials per rate
    python examples/fashionmnist.py --features pca    # PCA-50, no VAE training
"""

import argparse

import torch

from graphvar.benchmark import markdown_table, run_benchmark
from graphvar.benchmark.data import load_benchmark_data
from graphvar.benchmark.report import summary

# Calder, Cook, Thorpe, Slepčev (ICML 2020), Table 2: FashionMNIST, VAE features, 100 trials.
PUBLISHED = {"Poisson (Calder et al.)": [60.8, 66.1, 69.6, 71.2, 72.4],
             "PoissonMBO (Calder et al.)": [62.0, 67.2, 70.4, 72.1, 73.1]}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--features", choices=("vae", "pca", "raw"), default="vae")
    args = parser.parse_args()
    torch.set_num_threads(1)

    data = load_benchmark_data("fashionmnist", features=args.features, graph="knn", k=10)
    record = run_benchmark(
        data.graph, data.labels, dataset="fashionmnist", features=data.features,
        methods=["laplace", "poisson", "vlaplace", "vpoisson"], rates=[1, 2, 3, 4, 5],
        trials=args.trials, normalize="both", priors="both", config=data.info,
    )
    print(markdown_table(record))

    stats = summary(record)
    print("| method | 1 | 2 | 3 | 4 | 5 |\n|---|---:|---:|---:|---:|---:|")
    for name, row in PUBLISHED.items():
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    for name in ("poisson", "poisson+priors", "vpoisson+priors"):
        print(f"| {name} (graphvar) | " + " | ".join(f"{stats[(name, r)][0]:.1f}" for r in range(1, 6)) + " |")
