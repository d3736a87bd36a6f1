import pytest
import torch

from actionlib.engine.optim import SWATS, build_optimizer, default_lr, default_optimizer


def test_sgd_uses_the_authors_dampening_and_decay():
    opt = build_optimizer("sgd", [torch.nn.Parameter(torch.ones(2))], lr=0.1)
    group = opt.param_groups[0]
    assert (group["momentum"], group["dampening"], group["weight_decay"]) == (0.9, 0.9, 1e-3)


def test_adamw_decay_is_decoupled():
    p = torch.nn.Parameter(torch.ones(1))
    opt = build_optimizer("adamw", [p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros(1)
    opt.step()
    assert torch.allclose(p.detach(), torch.tensor([1 - 0.1 * 0.5]))  # p *= 1 - lr * wd; zero gradient, no Adam step


def test_frozen_parameters_are_left_out_and_names_checked():
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    opt = build_optimizer("adam", [frozen, torch.nn.Parameter(torch.ones(1))], lr=1e-3)
    assert len(opt.param_groups[0]["params"]) == 1
    with pytest.raises(ValueError, match="sgd, adam, adamw, swats"):
        build_optimizer("lamb", [torch.nn.Parameter(torch.ones(1))], lr=1e-3)


def test_swats_starts_as_adam_then_switches_to_sgd():
    torch.manual_seed(0)
    target = torch.randn(20)
    p = torch.nn.Parameter(torch.zeros(20))
    opt = SWATS([p], lr=1e-2, eps=1e-3)
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(20))], lr=1e-2, eps=1e-3)
    q = adam.param_groups[0]["params"][0]
    for _ in range(1):  # the first step is exactly Adam (no switch before the second step)
        for param, optimizer in ((p, opt), (q, adam)):
            optimizer.zero_grad()
            ((param - target) ** 2).sum().backward()
            optimizer.step()
    assert torch.allclose(p, q, atol=1e-6)
    for _ in range(2000):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
        if opt.param_groups[0]["phase"] == "sgd":
            break
    group = opt.param_groups[0]
    assert group["phase"] == "sgd" and group["sgd_lr"] > 0
    for _ in range(1500):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
    assert torch.allclose(p, target, atol=1e-2)
    restored = SWATS([torch.nn.Parameter(p.detach().clone())], lr=1e-2)
    restored.load_state_dict(opt.state_dict())
    assert restored.param_groups[0]["phase"] == "sgd"


def test_thesis_learning_rates():
    assert (default_optimizer("resnext3d_101", None), default_lr("resnext3d_101", None, "sgd")) == ("sgd", 1e-2)
    assert default_lr("i3d", None, "sgd") == 1e-1
    assert (default_optimizer("r2plus1d_34", "bert"), default_lr("r2plus1d_34", "bert", "adamw")) == ("adamw", 1e-5)
    assert default_lr("i3d", "bert", "adamw") == 1e-4
    assert (default_optimizer("resnet18", "concat"), default_lr("resnet18", "bert", "adamw")) == ("adamw", 1e-4)
    assert default_lr("resnet3d_101", None, "adam") == 1e-4


def test_rep_flow_layer_trains_at_a_hundredth_of_the_lr():
    from torch import nn

    from actionlib.engine.optim import LR_MULTIPLIERS, parameter_groups

    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.rep_flow, model.backbone.res5 = nn.Linear(2, 2), nn.Linear(2, 2)
    model.fc = nn.Linear(2, 2)
    model.fc.bias.requires_grad_(False)
    groups = parameter_groups(model, 0.1, LR_MULTIPLIERS["repflow_50"])
    assert sorted((g["lr"], len(g["params"])) for g in groups) == [(0.001, 2), (0.1, 3)]
    opt = build_optimizer("sgd", groups, 0.1)
    assert sorted(g["lr"] for g in opt.param_groups) == [0.001, 0.1]
