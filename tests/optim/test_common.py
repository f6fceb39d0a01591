"""The pieces the optimizers and schedules share: option checks that name the optimizer and
the option, the per-parameter loop, the shared docstring entries, and the schedules'
public module path (reprs, pickles)."""

from __future__ import annotations

import ast
import inspect
import pickle
import pickletools
import re

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import optim
from glassgrad.optim import lr_scheduler as S
from glassgrad.optim._common import _format_default, shared_doc

torch = pytest.importorskip("torch")

OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad", "RMSprop", "ASGD",
              "Adadelta", "Rprop"]


def _w():
    return [gg.zeros(3, requires_grad=True)]


@pytest.mark.parametrize("cls,kw,msg", [
    ("NAdam", dict(momentum_decay=-1.0), "NAdam: invalid momentum_decay value"),
    ("ASGD", dict(lambd=-1.0), "ASGD: invalid lambd value"),
    ("Adamax", dict(betas=(1.5, 0.9)), "Adamax: invalid beta parameter at index 0"),
    ("RAdam", dict(eps=-1.0), "RAdam: invalid epsilon value"),
    ("NAdam", dict(betas=[0.9]), "NAdam: betas must be a pair"),
    ("Adagrad", dict(eps=float("inf")), "Adagrad: invalid epsilon value"),
    ("Adadelta", dict(rho=1.5), "Adadelta: invalid rho value"),
    ("Adadelta", dict(weight_decay=-1.0), "Adadelta: invalid weight_decay value"),
    ("RMSprop", dict(alpha=float("nan")), "RMSprop: invalid alpha value"),
    ("SGD", dict(momentum="a"), "SGD: momentum value must be a number"),
])
def test_bad_options_name_the_optimizer_and_the_option(cls, kw, msg):
    err = TypeError if kw.get("momentum") == "a" else ValueError
    with pytest.raises(err, match=msg):
        getattr(optim, cls)(_w(), **kw)


@pytest.mark.parametrize("cls", ["Adam", "NAdam", "RAdam", "Adamax"])
def test_betas_are_checked_when_a_group_is_added_later(cls):
    opt = getattr(optim, cls)(_w())
    with pytest.raises(ValueError, match=f"{cls}: invalid beta parameter at index 1"):
        opt.add_param_group({"params": _w(), "betas": (0.9, 1.0)})
    opt.add_param_group({"params": _w(), "betas": [0.8, 0.99]})
    assert opt.param_groups[-1]["betas"] == (0.8, 0.99)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_only_parameters_with_a_gradient_are_stepped_and_versioned(cls):
    a, b = gg.ones(3, requires_grad=True), gg.ones(2, requires_grad=True)
    opt = getattr(optim, cls)([a, b], lr=0.1)
    a.grad = gg.tensor([1.0, -2.0, 3.0])
    va, vb = a._version[0], b._version[0]
    opt.step()
    assert a._version[0] == va + 1 and b._version[0] == vb
    assert not np.array_equal(a.array, np.ones(3, np.float32))
    assert np.array_equal(b.array, np.ones(2, np.float32)) and not opt.state.get(b)


@pytest.mark.parametrize("cls", [c for c in OPTIMIZERS if c != "SGD"])
def test_state_keys_match_torch_after_one_step(cls):
    kw = dict(amsgrad=True) if cls in ("Adam", "AdamW") else {}
    w = gg.ones(3, requires_grad=True)
    tw = torch.ones(3, requires_grad=True)
    opt, topt = getattr(optim, cls)([w], **kw), getattr(torch.optim, cls)([tw], **kw)
    w.grad = gg.tensor([1.0, -2.0, 3.0])
    tw.grad = torch.tensor([1.0, -2.0, 3.0])
    opt.step()
    topt.step()
    ours = set(opt.state_dict()["state"][0])
    theirs = set(topt.state_dict()["state"][0])
    assert ours == theirs


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_docstrings_have_the_shared_entries_filled_in(cls):
    doc = getattr(optim, cls).__doc__
    assert "params : iterable of Tensor or dict" in doc
    assert "{" not in doc.replace("``{", "")


@pytest.mark.parametrize("cls", OPTIMIZERS + ["LBFGS"])
def test_docstrings_document_every_argument_in_signature_order(cls):
    c = getattr(optim, cls)
    doc = c.__doc__.partition("Parameters\n    ----------\n")[2]
    documented = re.findall(r"^    (\w+) : ", doc, flags=re.M)
    assert documented == list(inspect.signature(c.__init__).parameters)[1:]


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_shared_entries_give_the_class_own_defaults(cls):
    c = getattr(optim, cls)
    for name, p in list(inspect.signature(c.__init__).parameters.items())[1:]:
        entry = re.search(rf"^    {name} : .*\n((?:        .*\n)+)", c.__doc__, flags=re.M)
        m = re.search(r"\(default (.*?)\)\.", entry.group(1).replace("\n        ", " "))
        if m:
            assert ast.literal_eval(m.group(1)) == p.default, (name, m.group(1))


def test_shared_doc_fills_a_list_of_entries_with_the_signature_defaults():
    @shared_doc
    class Opt(optim.Optimizer):
        """Doc.

        Parameters
        ----------
        {params, lr, betas}
        rho : float
            Own entry.
        {eps, maximize}
        """

        def __init__(self, params, lr=0.25, betas=(0.5, 0.75), rho=1.0, eps=1e-6, *,
                     maximize=False):
            super().__init__(params, dict(lr=lr))

    doc = Opt.__doc__
    names = re.findall(r"^        (\w+) : ", doc, flags=re.M)
    assert names == ["params", "lr", "betas", "rho", "eps", "maximize"]
    assert "Learning rate (default 0.25)." in doc
    assert "(default (0.5, 0.75))." in doc
    assert "numerical stability (default 1e-6)." in doc


@pytest.mark.parametrize("value,text", [(1e-3, "1e-3"), (2e-3, "2e-3"), (1e-2, "1e-2"),
                                        (0.0, "0"), (1.0, "1"), (0.99, "0.99"), (1e6, "1e6"),
                                        ((0.9, 0.999), "(0.9, 0.999)"), (False, "False")])
def test_defaults_are_written_as_the_docs_write_them(value, text):
    assert _format_default(value) == text


def test_schedules_say_they_belong_to_lr_scheduler_and_pickle_by_that_path():
    for name in S.__all__:
        assert getattr(S, name).__module__ == "glassgrad.optim.lr_scheduler", name
    w = gg.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    for sched in (S.StepLR(opt, 2), S.CyclicLR(opt, 0.01, 0.1, step_size_up=3),
                  S.OneCycleLR(opt, 0.5, total_steps=10)):
        opt.step()
        sched.step()
        blob = pickle.dumps(sched)
        strings = [arg for _, arg, _ in pickletools.genops(blob) if isinstance(arg, str)]
        assert strings[:2] == ["glassgrad.optim.lr_scheduler", type(sched).__name__]
        again = pickle.loads(blob)
        assert type(again) is type(sched)
        assert again.get_last_lr() == sched.get_last_lr()


def test_composite_schedules_check_their_schedulers():
    w = gg.zeros(2, requires_grad=True)
    opt, other = optim.SGD([w], lr=0.1), optim.SGD([gg.zeros(2, requires_grad=True)], lr=0.1)
    plateau = S.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="SequentialLR: scheduler 0 is a ReduceLROnPlateau"):
        S.SequentialLR(opt, [plateau, S.StepLR(opt, 2)], milestones=[2])
    with pytest.raises(ValueError, match="ChainedScheduler: scheduler 1 is a ReduceLROnPlateau"):
        S.ChainedScheduler([S.StepLR(opt, 2), plateau])
    with pytest.raises(ValueError, match=r"ChainedScheduler: scheduler 1 \(StepLR\) belongs to a"):
        S.ChainedScheduler([S.StepLR(opt, 2), S.StepLR(other, 2)])
    with pytest.raises(ValueError, match="SequentialLR: expects at least one scheduler"):
        S.SequentialLR(opt, [], milestones=[])


def test_composite_state_dict_round_trip_matches_torch_layout():
    w, tw = gg.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt, topt = optim.SGD([w], lr=0.1), torch.optim.SGD([tw], lr=0.1)
    ours = S.ChainedScheduler([S.StepLR(opt, 2), S.ExponentialLR(opt, 0.9)])
    theirs = torch.optim.lr_scheduler.ChainedScheduler(
        [torch.optim.lr_scheduler.StepLR(topt, 2), torch.optim.lr_scheduler.ExponentialLR(topt, 0.9)])
    for _ in range(3):
        opt.step()
        topt.step()
        ours.step()
        theirs.step()
    sd = ours.state_dict()
    assert len(sd["_schedulers"]) == len(theirs.state_dict()["_schedulers"]) == 2
    np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
    fresh = S.ChainedScheduler([S.StepLR(opt, 2), S.ExponentialLR(opt, 0.9)])
    fresh.load_state_dict(sd)
    assert fresh._schedulers[0].last_epoch == ours._schedulers[0].last_epoch
