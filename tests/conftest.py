import importlib.abc
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


class _Helpers(importlib.abc.MetaPathFinder):
    """``import oracle`` (and ``ddp_worker``, any helper module at the top of tests/) from
    every folder. tests/ itself is not put on sys.path: its folders mirror glassgrad's
    (tests/onnx/, tests/sklearn/, ...) and would be found as namespace packages by
    ``import onnx`` wherever onnx is not installed."""

    def find_spec(self, name, path=None, target=None):
        if path is not None or "." in name or name.startswith("test_") or name == "conftest":
            return None
        file = os.path.join(HERE, name + ".py")
        return importlib.util.spec_from_file_location(name, file) if os.path.isfile(file) else None


if not any(isinstance(f, _Helpers) for f in sys.meta_path):
    sys.meta_path.append(_Helpers())

_INTEGRATION = os.path.join(HERE, "integration") + os.sep


def pytest_collection_modifyitems(config, items):
    """Everything under tests/integration/ carries the ``integration`` marker."""
    for item in items:
        if str(item.path).startswith(_INTEGRATION):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def float64_default():
    """glassgrad's (and PyTorch's, when installed) default dtype float64 for one test, as
    the comparisons to 1e-10 need; restored afterwards. Modules ask for it with
    ``pytestmark = pytest.mark.usefixtures("float64_default")``."""
    import glassgrad as gg

    try:
        import torch
    except ImportError:
        torch = None
    old = gg.get_default_dtype()
    told = torch.get_default_dtype() if torch is not None else None
    gg.set_default_dtype(gg.float64)
    if torch is not None:
        torch.set_default_dtype(torch.float64)
    yield
    gg.set_default_dtype(old)
    if torch is not None:
        torch.set_default_dtype(told)
