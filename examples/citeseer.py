"""CiteSeer at 1, 3 and 5 labels per class: the same walk-through as ``examples/cora.py``.

    python examples/citeseer.py

Runtime measured here: 25.5 s wall (2-core shared CPU, 1-minute load average 2.7).
"""

from cora import main

if __name__ == "__main__":
    main("citeseer")
