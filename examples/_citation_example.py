"""Shared body of ``examples/cora.py`` and ``examples/citeseer.py``."""

import argparse

import torch

from graphvar.benchmark import markdown_table, run_benchmark
from graphvar.benchmark.data import load_benchmark_data

METHODS = ["laplace", "poisson", "vlaplace", "vpoisson", "labelprop", "gcn", "appnp", "gpn", "vgpn"]


def main(dataset: str, description: str) -> None:
    """Run every method on ``dataset``'s citation graph and print the table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rates", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    torch.set_num_threads(1)

    # the citation graph's largest connected component: on the full graph most small
    # components hold no label and Calder's stopping rule never fires
    data = load_benchmark_data(dataset, graph="citation", largest_component=True)
    record = run_benchmark(
        data.graph, data.labels, dataset=dataset, features=data.features,
        methods=METHODS, rates=args.rates, trials=args.trials,
        normalize="off", priors="off", config=data.info,
    )
    print(markdown_table(record))
