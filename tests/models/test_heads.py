import pytest
import torch

from actionlib.models.heads import NonLocalBlock, build_head, head_names


@pytest.mark.parametrize(
    ("name", "out_dim"),
    [
        ("avg", 64),
        ("tgap", 64),
        ("nl_avg", 64),
        ("concat", 4 * 64),
        ("nl_concat", 4 * 64),
        ("concat_fc", 1550),
        ("nl_concat_fc", 1000),
        ("lstm", 512),
        ("convgru", 196),
        ("bert", 64),
    ],
)
def test_every_head_pools_a_feature_map(name, out_dim):
    head = build_head(name, 64, 4)
    fmap = torch.randn(2, 64, 4, 3, 3, requires_grad=True)
    out = head(fmap)
    assert head.out_dim == out_dim
    assert out["pooled"].shape == (2, out_dim)
    out["pooled"].sum().backward()
    assert fmap.grad.abs().sum() > 0


def test_bert_head_returns_what_distillation_needs():
    out = build_head("bert", 64, 4).train()(torch.randn(2, 64, 4, 3, 3))
    assert out["tokens"].shape == (2, 4, 64) and out["token_outputs"].shape == (2, 4, 64)
    assert torch.allclose(out["tokens"].norm(dim=-1), torch.ones(2, 4))
    assert torch.allclose(out["token_outputs"].norm(dim=-1), torch.ones(2, 4), atol=1e-5)
    assert out["key_mask"].shape == (2, 5)


def test_order_aware_heads_see_frame_order_and_average_does_not():
    fmap = torch.randn(1, 16, 4, 2, 2)
    reversed_ = fmap.flip(2)
    for name in ("concat", "lstm", "bert"):
        head = build_head(name, 16, 4).eval()
        assert not torch.allclose(head(fmap)["pooled"], head(reversed_)["pooled"]), name
    avg = build_head("avg", 16, 4)
    assert torch.allclose(avg(fmap)["pooled"], avg(reversed_)["pooled"], atol=1e-6)


def test_non_local_block_starts_as_identity():
    x = torch.randn(2, 8, 2, 3, 3)
    assert torch.allclose(NonLocalBlock(8, 8).eval()(x), x)


def test_unknown_head_lists_the_choices():
    with pytest.raises(ValueError, match="unknown head 'gru'.*bert.*convgru"):
        build_head("gru", 8, 4)
    assert "tgap" in head_names()
