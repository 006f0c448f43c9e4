"""CiteSeer at 1-5 labels per class: graph solvers and GNNs on the citation graph.

The graph is the largest connected component of the citation graph, the
features are the bag-of-words vectors. Every method sees the same seeded
labeled sets; the table shows accuracy on the unlabeled nodes, mean (std),
and the paired difference vs Poisson. GNN rows: label propagation, GCN, APPNP,
GPN (a = 0) and V-GPN.

    python examples/citeseer.py              # 10 trials per rate, a few minutes on a CPU
    python examples/citeseer.py --trials 3   # quicker
"""

from _citation_example import main

if __name__ == "__main__":
    main("citeseer", __doc__.splitlines()[0])
