import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# the shared helpers (oracle.py, ddp_worker.py) import as top-level modules from every folder
sys.path.insert(0, HERE)

_INTEGRATION = os.path.join(HERE, "integration") + os.sep


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration/ carries the ``integration`` marker."""
    for item in items:
        if str(item.path).startswith(_INTEGRATION):
            item.add_marker(pytest.mark.integration)
