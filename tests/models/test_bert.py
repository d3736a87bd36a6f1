import pytest
import torch

from actionlib.models.bert import BertLayerNorm, BertPooling


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("d", "length", "expected"),
    [(512, 4, 3_155_456), (512, 16, 3_161_600), (1024, 8, 12_606_464), (256, 32, 798_464), (640, 8, 4_929_920)],
)
def test_parameter_count_matches_the_authors_formula(d, length, expected):
    # n_layers * (12 d^2 + 13 d) + (L + 2) d, notes section 1.4
    assert n_params(BertPooling(d, length)) == expected


def test_mean_context_vector_has_no_classification_token():
    assert n_params(BertPooling(512, 4, cls="mean")) == 3_155_456 - 512


def test_layers_and_heads_are_configurable():
    assert n_params(BertPooling(512, 4, layers=2)) == 3_155_456 + 12 * 512**2 + 13 * 512
    BertPooling(512, 4, heads=1)(torch.randn(2, 4, 512))
    with pytest.raises(ValueError, match="divisible"):
        BertPooling(100, 4, heads=8)


def test_masking_only_in_training_and_cls_always_visible():
    bert = BertPooling(64, 16, keep_prob=0.5)
    x = torch.randn(8, 16, 64)
    bert.train()
    out = bert(x)
    assert out.key_mask[:, 0].all()
    assert not out.key_mask[:, 1:].all()  # 128 draws at p=0.5: some are masked
    bert.eval()
    out = bert(x)
    assert out.key_mask.all()
    assert out.pooled.shape == (8, 64) and out.sequence.shape == (8, 16, 64)
    assert torch.equal(bert(x).pooled, out.pooled)  # eval is deterministic


def test_masked_positions_do_not_influence_the_classification_output():
    torch.manual_seed(1)
    bert = BertPooling(32, 4, keep_prob=1.0, dropout=0.0).eval()
    x = torch.randn(1, 4, 32)
    mask = torch.tensor([[True, True, False, True, True]])
    h = bert.embed_dropout(torch.cat([bert.cls_token, x], 1) + bert.position)
    first = bert.blocks[0](h, mask)[:, 0]
    x2 = x.clone()
    x2[0, 1] += 100.0  # change the masked position (index 2 of the sequence incl. CLS)
    h2 = bert.embed_dropout(torch.cat([bert.cls_token, x2], 1) + bert.position)
    assert torch.allclose(first, bert.blocks[0](h2, mask)[:, 0], atol=1e-5)


def test_layer_norm_uses_unbiased_std_with_eps_outside_sqrt():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    y = BertLayerNorm(4)(x)
    expected = (x - 2.5) / (x.std(unbiased=True) + 1e-6)
    assert torch.allclose(y, expected)


def test_init_variants():
    torch.manual_seed(0)
    b5, b2 = BertPooling(1024, 8, init="bert5"), BertPooling(1024, 8, init="bert2")
    assert abs(b5.position.std().item() - 0.02) < 0.002
    assert abs(b2.position.std().item() - 1024**-0.5) < 0.003
    assert abs(b2.blocks[0].ffn_in.weight.std().item() - 0.02) < 0.002
    assert b2.blocks[0].ffn_in.bias.abs().sum() == 0
    with pytest.raises(ValueError, match="init"):
        BertPooling(64, 4, init="bert9")


def test_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="built for 4 positions, got 8"):
        BertPooling(64, 4)(torch.randn(1, 8, 64))
